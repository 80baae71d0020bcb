"""While PostgreSQL is unreachable the admin API answers 503 ``unavailable`` with
Retry-After (a console can say "try again"), not 500; it answers again once it is back."""

from __future__ import annotations

import time

from hookline.settings import Settings
from tests.integration.admin_fixtures import admin_config, start_admin
from tests.tcp_proxy import tcp_proxy

__all__ = ["admin_config"]


async def test_postgres_unreachable_is_a_503_with_retry_after_then_answers_again(
    admin_config: Settings,
) -> None:
    pg = admin_config.postgres
    async with tcp_proxy(pg.host, pg.port) as proxy:
        through_proxy = pg.model_copy(update={"port": proxy.port})
        serve = admin_config.model_copy(update={"postgres": through_proxy})
        admin = await start_admin(admin_config, serve=serve)
        viewer = admin.as_role("viewer")
        try:
            ok = await admin.client.get("/api/v1/sync-runs", headers=viewer)
            assert ok.status == 200, await ok.text()

            await proxy.cut()
            asked = time.monotonic()
            down = await admin.client.get("/api/v1/sync-runs", headers=viewer)
            assert time.monotonic() - asked < admin_config.admin.database_wait_seconds + 2
            text = await down.text()
            assert down.status == 503, text
            assert down.headers["Retry-After"] == "5"
            assert down.headers["X-Request-Id"]
            [problem] = (await down.json())["errors"]
            assert problem["code"] == "unavailable"
            assert "PostgreSQL is unreachable" in problem["message"]
            assert "Traceback" not in text
            assert "password" not in text.lower()

            await proxy.restore()
            # The pool tests a connection before handing it out: the connections the cut
            # broke are replaced, not handed to this request.
            back = await admin.client.get("/api/v1/sync-runs", headers=viewer)
            assert back.status == 200, await back.text()
        finally:
            await admin.client.close()
