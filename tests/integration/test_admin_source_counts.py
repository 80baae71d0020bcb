"""GET /api/v1/sources with request counts sampled from a running ingress's workers."""

from __future__ import annotations

import asyncio
import signal
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

from hookline.settings import Settings
from hookline.topics import Topics
from tests.integration.admin_fixtures import Admin, admin_config, start_admin
from tests.integration.test_ingress_process import post, start_ingress

__all__ = ["admin_config"]


def post_unsigned(port: int) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/webhooks/gh", data=b"{}", method="POST"
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return int(response.status)
    except urllib.error.HTTPError as exc:
        return exc.code


async def sources(admin: Admin) -> dict[str, Any]:
    answer = await admin.client.get("/api/v1/sources", headers=admin.as_role("viewer"))
    assert answer.status == 200, await answer.text()
    return dict(await answer.json())


async def wait_for(admin: Admin, done: Any) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        body = await sources(admin)
        if done(body):
            return body
        await asyncio.sleep(0.2)
    raise AssertionError(f"the counts never got there: {body}")


async def test_sources_report_accepted_and_rejected_requests_over_recent_windows(
    admin_config: Settings, topics: Topics, tmp_path: Path
) -> None:
    process, port = start_ingress(admin_config, tmp_path, workers=1)
    section = admin_config.admin.model_copy(
        update={
            "ingress_metrics_urls": [f"http://127.0.0.1:{port + 1}/metrics"],
            "ingress_scrape_seconds": 0.2,
        }
    )
    ingress = admin_config.ingress.model_copy(update={"sources_file": tmp_path / "sources.toml"})
    config = admin_config.model_copy(update={"admin": section, "ingress": ingress})
    admin = await start_admin(config)
    try:
        await wait_for(admin, lambda b: b["meta"]["ingress_workers"]["answering"] == 1)
        statuses = [post(port, f"c-{i}") for i in range(3)] + [
            post_unsigned(port) for _ in range(2)
        ]
        assert statuses == [200, 200, 200, 401, 401]
        counted = {"accepted": 3, "rejected": 2, "failed": 0}

        def settled(body: dict[str, Any]) -> bool:
            requests = body["data"][0]["requests"]
            return all({k: w[k] for k in counted} == counted for w in requests["windows"])

        body = await wait_for(admin, settled)
    finally:
        await admin.client.close()
        process.send_signal(signal.SIGTERM)
        process.communicate(timeout=30)
    [gh] = body["data"]
    assert gh["name"] == "gh"
    assert gh["requests"]["since_worker_start"] == counted
    assert [w["window_seconds"] for w in gh["requests"]["windows"]] == [300, 3600]
    assert body["meta"]["ingress_workers"] == {"configured": 1, "answering": 1}
