"""One webhook followed by its trace id: the ingress's log line, the raw record, the
processors (canonical event header and CloudEvents ``traceparent`` attribute, dead
letters, log lines), the connector's log line and the destination's request headers; the
provider's ``tracestate`` beside it, unchanged (or dropped when it may not travel).
Ingress, processors and connector run as subprocesses with JSON logs, as deployed; every
line they print is JSON with the common fields."""

from __future__ import annotations

import asyncio
import os
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import orjson
import pytest
from confluent_kafka import Message

from hookline import tracing
from hookline.settings import Settings
from hookline.topics import Topics
from ingress.providers import REGISTRY
from sandbox.destination_api import TOKEN, FakeDestinationApi
from tests.conftest import ROOT, ConsumeFn
from tests.integration.processor_worker import ProcessorWorker
from tests.ports import free_port

SHOP_SECRET = "trace-test-shopify-secret"  # this test's own source
PROVIDER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
PROVIDER_PARENT = f"00-{PROVIDER_TRACE}-00f067aa0ba902b7-01"
PROVIDER_STATE = "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"  # vendors' list-members
OTHER_PARENT = f"00-{'a' * 32}-{'b' * 16}-01"
OVERSIZED_STATE = ",".join(f"k{i:02}=" + "v" * 20 for i in range(24))  # 599 characters
COMMON_FIELDS = ("timestamp", "level", "logger", "event")


@dataclass
class Services:
    """The three services' processes and their log files."""

    ingress_url: str
    logs: dict[str, Path]
    processes: dict[str, subprocess.Popen[bytes]]
    worker: ProcessorWorker

    def lines(self, name: str) -> list[dict[str, Any]]:
        return [orjson.loads(line) for line in self.logs[name].read_text().splitlines()]

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.terminate()
        for process in self.processes.values():
            try:
                process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                process.kill()
        self.worker.stop()


def _env(settings: Settings, tmp_path: Path, api_url: str) -> dict[str, str]:
    (tmp_path / "sources.toml").write_text(
        f'[sources.shop]\nprovider = "shopify"\nsecrets = ["{SHOP_SECRET}"]\n'
    )
    (tmp_path / "connectors.toml").write_text(
        "[connectors.traced]\n"
        'families = ["customer"]\n'
        "poll_timeout_seconds = 0.2\n"
        "[connectors.traced.destination]\n"
        'type = "http_upsert"\n'
        f'base_url = "{api_url}"\n'
        'token = "secret:trace_test_token"\n'
    )
    return {
        **os.environ,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
        "HOOKLINE_POSTGRES__DATABASE": settings.postgres.database,
        "HOOKLINE_INGRESS__SOURCES_FILE": str(tmp_path / "sources.toml"),
        "HOOKLINE_INGRESS__METRICS_PORT": "0",
        "HOOKLINE_CONNECTORS__CONFIG_FILE": str(tmp_path / "connectors.toml"),
        "HOOKLINE_CONNECTORS__METRICS_PORT": "0",
        "HOOKLINE_SECRETS__TRACE_TEST_TOKEN": TOKEN,
        "HOOKLINE_LOG__FORMAT": "json",
    }


@pytest.fixture
async def services(
    connector_settings: Settings, fake_api: FakeDestinationApi, tmp_path: Path
) -> AsyncIterator[Services]:
    env = _env(connector_settings, tmp_path, fake_api.base_url)
    port = free_port()
    env["HOOKLINE_INGRESS__PORT"] = str(port)
    logs = {name: tmp_path / f"{name}.log" for name in ("ingress", "connector", "processors")}
    processes = {
        name: _start(module, env, logs[name])
        for name, module in (("ingress", "ingress"), ("connector", "connectors"))
    }
    worker = ProcessorWorker(connector_settings, tmp_path / "state", logs["processors"])
    worker.env["HOOKLINE_LOG__FORMAT"] = "json"
    worker.start()
    running = Services(f"http://127.0.0.1:{port}", logs, processes, worker)
    try:
        await _until_ready(running)
        yield running
    finally:
        running.stop()


def _start(module: str, env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    """``python -m module``, its stdout and stderr both into ``log_path``."""
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, "-m", module], cwd=ROOT, env=env, stdout=log, stderr=log
        )


async def _until_ready(services: Services) -> None:
    deadline = time.monotonic() + 60
    async with aiohttp.ClientSession() as session:
        while time.monotonic() < deadline:
            assert services.processes["ingress"].poll() is None, services.logs["ingress"]
            try:
                async with session.get(f"{services.ingress_url}/readyz") as response:
                    if response.status == 200:
                        return
            except aiohttp.ClientError:
                pass
            await asyncio.sleep(0.2)
    raise AssertionError("the ingress did not become ready")


def _customer(number: int) -> bytes:
    return orjson.dumps(
        {
            "id": number,
            "email": f"c{number}@example.com",
            "first_name": "Ada",
            "created_at": "2026-01-01T00:00:00Z",
            "updated_at": "2026-01-01T00:00:00Z",
        }
    )


async def _post(
    url: str, body: bytes, event_id: str, traceparent: str | None, tracestate: str | None = None
) -> None:
    headers = REGISTRY["shopify"].sign(
        body, SHOP_SECRET, time.time(), topic="customers/update", event_id=event_id
    )
    if traceparent is not None:
        headers["traceparent"] = traceparent
    if tracestate is not None:
        headers["tracestate"] = tracestate
    async with (
        aiohttp.ClientSession() as session,
        session.post(f"{url}/webhooks/shop", data=body, headers=headers) as response,
    ):
        assert response.status == 200, await response.text()


async def _until(condition: Any, what: str, services: Services) -> None:
    deadline = time.monotonic() + 90
    while not condition():
        if time.monotonic() > deadline:
            tails = {n: p.read_text()[-2000:] for n, p in services.logs.items()}
            raise AssertionError(f"timed out waiting for {what}; logs: {tails}")
        await asyncio.sleep(0.1)


def _headers(message: Message) -> dict[str, bytes]:
    return {k: v for k, v in (message.headers() or []) if isinstance(v, bytes)}


def _short(event_id: str) -> str:
    """The ID this test gave (Shopify's event IDs are ``{shop}:{X-Shopify-Event-Id}``)."""
    return event_id.rsplit(":", 1)[-1]


def _by_event_id(messages: list[Message]) -> Iterator[tuple[str, dict[str, bytes]]]:
    for message in messages:
        headers = _headers(message)
        yield _short(headers["hookline-event-id"].decode()), headers


async def test_one_webhook_is_followed_by_its_trace_id_from_ingress_to_destination(
    services: Services,
    fake_api: FakeDestinationApi,
    connector_settings: Settings,
    consume: ConsumeFn,
) -> None:
    topics = Topics(connector_settings.kafka.topic_prefix)
    url = services.ingress_url
    await _post(url, _customer(501), "ev-continued", PROVIDER_PARENT, PROVIDER_STATE)
    # a tracestate is dropped beside an invalid traceparent, or when malformed or oversized
    await _post(url, _customer(502), "ev-malformed", "00-not-a-traceparent-01", PROVIDER_STATE)
    await _post(url, _customer(503), "ev-bad-state", OTHER_PARENT, "Not A Tracestate")
    await _post(url, _customer(504), "ev-big-state", OTHER_PARENT, OVERSIZED_STATE)
    await _post(url, _customer(505), "ev-orphan-state", None, PROVIDER_STATE)
    await _post(url, b"{not json", "ev-broken", PROVIDER_PARENT, PROVIDER_STATE)
    await _until(lambda: len(fake_api.calls) >= 5, "the customers delivered", services)
    await _until(
        lambda: any(
            line.get("event") == "record dead-lettered" for line in services.lines("processors")
        ),
        "the broken webhook dead-lettered",
        services,
    )

    # the ingress: one line per accepted webhook, carrying its trace id
    accepted = {
        _short(line["event_ids"][0]): line
        for line in services.lines("ingress")
        if line["event"] == "webhook accepted"
    }
    continued = accepted["ev-continued"]["trace_id"]
    assert continued == PROVIDER_TRACE  # the provider's trace, continued
    fresh = accepted["ev-malformed"]["trace_id"]  # malformed: ignored, a new trace
    assert fresh != PROVIDER_TRACE
    assert tracing.parse(f"00-{fresh}-{'1' * 16}-01") is not None

    # the raw records: the ingress's span, a child of the provider's
    raw = dict(_by_event_id(consume(topics.raw_webhooks, 6)))
    raw_parent = tracing.parse(raw["ev-continued"][tracing.TRACEPARENT])
    assert raw_parent is not None
    assert raw_parent.trace_id == PROVIDER_TRACE
    assert raw_parent.span_id != "00f067aa0ba902b7"
    assert raw_parent.span_id == accepted["ev-continued"]["span_id"]
    # ... with the provider's tracestate unchanged beside it, or none
    assert raw["ev-continued"][tracing.TRACESTATE] == PROVIDER_STATE.encode()
    assert raw["ev-broken"][tracing.TRACESTATE] == PROVIDER_STATE.encode()
    for dropped in ("ev-malformed", "ev-bad-state", "ev-big-state", "ev-orphan-state"):
        assert tracing.TRACESTATE not in raw[dropped], dropped
    assert raw["ev-bad-state"][tracing.TRACEPARENT].decode().split("-")[1] == "a" * 32

    # the canonical events: header and CloudEvents attribute, the processor's span
    events, states = {}, {}
    for message in consume(topics.events("customer"), 5):
        event = orjson.loads(message.value() or b"")
        assert event["traceparent"] == _headers(message)[tracing.TRACEPARENT].decode()
        short = _short(event["providereventid"])
        events[short] = tracing.parse(event["traceparent"])
        states[short] = (event.get("tracestate"), _headers(message).get(tracing.TRACESTATE))
    continued_event = events["ev-continued"]
    assert continued_event is not None
    assert continued_event[:3] == (PROVIDER_TRACE, continued_event.span_id, "01")
    assert continued_event.span_id != raw_parent.span_id
    assert events["ev-malformed"].trace_id == fresh
    assert states == {
        "ev-continued": (PROVIDER_STATE, PROVIDER_STATE.encode()),
        "ev-malformed": (None, None),
        "ev-bad-state": (None, None),
        "ev-big-state": (None, None),
        "ev-orphan-state": (None, None),
    }

    # the dead letter keeps the original headers, trace context included; the processors'
    # log line about it carries the trace id
    (dead,) = consume(topics.raw_dead_letter, 1)
    assert _headers(dead)[tracing.TRACEPARENT] == raw["ev-broken"][tracing.TRACEPARENT]
    assert _headers(dead)[tracing.TRACESTATE] == PROVIDER_STATE.encode()
    broken_trace = accepted["ev-broken"]["trace_id"]
    dead_lines = [
        line for line in services.lines("processors") if line["event"] == "record dead-lettered"
    ]
    assert [line["trace_id"] for line in dead_lines] == [broken_trace]

    # the destination call: the connector's span of the same trace, in the request headers
    sent = {tracing.parse(c.headers.get("traceparent")) for c in fake_api.calls}
    traces = {PROVIDER_TRACE, fresh, "a" * 32, accepted["ev-orphan-state"]["trace_id"]}
    assert {t.trace_id for t in sent if t is not None} == traces
    calls = [line for line in services.lines("connector") if line["event"] == "external call"]
    assert {line["trace_id"] for line in calls} == traces
    for line in calls:
        assert line["request_headers"]["traceparent"].split("-")[1] == line["trace_id"]
    # ... with the provider's tracestate unchanged, on its webhook's call only
    states_sent = sorted(
        (c.headers["traceparent"].split("-")[1] == PROVIDER_TRACE, c.headers.get("tracestate"))
        for c in fake_api.calls
    )
    assert states_sent == [(False, None)] * 4 + [(True, PROVIDER_STATE)]


async def test_every_line_of_every_service_is_json_with_the_common_fields(
    services: Services, fake_api: FakeDestinationApi
) -> None:
    await _post(services.ingress_url, _customer(601), "ev-logs", None)
    await _until(lambda: len(fake_api.calls) >= 1, "the customer delivered", services)
    services.stop()  # shutdown lines too
    for name, path in services.logs.items():
        text = path.read_text()
        assert text, name
        for line in text.splitlines():
            try:
                parsed = orjson.loads(line)
            except orjson.JSONDecodeError:
                raise AssertionError(f"{name} printed a line that is not JSON: {line!r}") from None
            missing = [f for f in COMMON_FIELDS if f not in parsed]
            assert not missing, (name, missing, line)
    loggers = {line["logger"] for name in services.logs for line in services.lines(name)}
    assert any(logger.startswith("faust") for logger in loggers), loggers  # libraries' too
