"""The audited HTTP client and the generic upsert destination, against an in-process fake."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime
from urllib.parse import quote, unquote

import pytest
from pydantic import SecretStr
from structlog.testing import capture_logs

from connectors.destinations.base import Change
from connectors.destinations.http_upsert import HttpUpsert, HttpUpsertConfig, path_segment
from connectors.errors import PermanentError, RetriableError
from connectors.http import (
    HttpClient,
    parse_retry_after,
    rate_limit_from_headers,
    sanitise_headers,
)
from connectors.metrics import ConnectorMetrics
from hookline import tracing
from hookline.metrics import new_registry
from sandbox.destination_api import TOKEN, FakeDestinationApi, Reply

NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
async def api() -> AsyncIterator[FakeDestinationApi]:
    fake = FakeDestinationApi()
    await fake.start()
    yield fake
    await fake.close()


@pytest.fixture
async def http() -> AsyncIterator[HttpClient]:
    client = HttpClient("crm", ConnectorMetrics(new_registry()), timeout_seconds=2)
    yield client
    await client.close()


def change(entity: str = "cust:1/2") -> Change:
    return Change(
        entity_key=f"customer:{entity}",
        family="customer",
        entity_id=entity,
        state={"email": "a@example.com"},
        state_hash="h",
        version=NOW,
        source="shop",
        event_id="e1",
        event_type="dev.hookline.customer.updated",
    )


async def test_upsert_puts_the_state_with_key_version_and_bearer_token(
    api: FakeDestinationApi, http: HttpClient
) -> None:
    config = HttpUpsertConfig(base_url=api.base_url, token=SecretStr(TOKEN))
    destination = HttpUpsert(config, http)
    with capture_logs() as logs:
        await destination.apply(change(), "key-1")
    assert api.state == {"cust:1/2": {"email": "a@example.com"}}
    assert api.effective_writes == {"key-1": 1}
    [audit] = logs
    assert audit["event"] == "external call"
    assert (audit["method"], audit["status"], audit["category"]) == ("PUT", 200, "success")
    assert audit["url"].endswith("/customer/cust%3A1%2F2")
    assert audit["request_headers"]["Authorization"] == "[redacted]"
    assert audit["request_headers"]["Idempotency-Key"] == "key-1"
    assert audit["connector"] == "crm"
    assert audit["duration_ms"] >= 0


async def test_a_503_is_retriable_with_retry_after_and_the_body_is_audited_truncated(
    api: FakeDestinationApi, http: HttpClient
) -> None:
    api.script_calls(Reply(503, retry_after=7, body={"error": "x" * 3000}))
    with capture_logs() as logs, pytest.raises(RetriableError) as caught:
        await http.request(
            "PUT",
            f"{api.base_url}/customer/1?api_key=hunter2",
            json={},
            headers={"Authorization": f"Bearer {TOKEN}"},
        )
    assert (caught.value.status, caught.value.retry_after) == (503, 7.0)
    assert len(caught.value.body or "") == 1024
    [audit] = logs
    assert audit["category"] == "retriable"
    assert len(audit["response_body"]) == 1024
    assert "hunter2" not in audit["url"]


async def test_a_401_is_permanent(api: FakeDestinationApi, http: HttpClient) -> None:
    with pytest.raises(PermanentError) as caught:
        await http.request("PUT", f"{api.base_url}/customer/1", json={})
    assert caught.value.status == 401


async def test_a_refused_connection_is_retriable_and_audited(http: HttpClient) -> None:
    with capture_logs() as logs, pytest.raises(RetriableError) as caught:
        await http.request("PUT", "http://127.0.0.1:9/customer/1", json={})
    assert caught.value.status is None
    assert (logs[0]["category"], logs[0]["status"]) == ("retriable", None)


def test_credential_headers_are_masked() -> None:
    headers = {
        "Authorization": "Bearer t",
        "X-Shopify-Access-Token": "t",
        "X-Api-Key": "t",
        "Idempotency-Key": "k",
        "Content-Type": "application/json",
    }
    assert sanitise_headers(headers) == {
        "Authorization": "[redacted]",
        "X-Shopify-Access-Token": "[redacted]",
        "X-Api-Key": "[redacted]",
        "Idempotency-Key": "k",
        "Content-Type": "application/json",
    }


def test_retry_after_as_seconds_or_http_date() -> None:
    assert parse_retry_after("120") == 120
    assert parse_retry_after("Thu, 01 Jan 2026 00:00:30 GMT", NOW) == 30
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


@pytest.mark.parametrize(
    ("headers", "remaining", "reset"),
    [
        ({"RateLimit-Remaining": "5", "RateLimit-Reset": "2"}, 5, 2),
        ({"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(NOW.timestamp() + 9)}, 0, 9),
        (
            {
                "X-HubSpot-RateLimit-Remaining": "40",
                "X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
            },
            40,
            10,
        ),
        ({"X-Shopify-Shop-Api-Call-Limit": "39/40"}, 1, None),
    ],
)
def test_vendor_rate_limit_headers_are_read(
    headers: dict[str, str], remaining: float, reset: float | None
) -> None:
    hint = rate_limit_from_headers(headers, NOW)
    assert hint is not None
    assert (hint.remaining, hint.reset_seconds) == (remaining, reset)


def test_no_rate_limit_headers_no_hint() -> None:
    assert rate_limit_from_headers({"Content-Type": "application/json"}) is None


@pytest.mark.parametrize("entity_id", ["C-1001_a.b~", "a b", "a/b", "é", "", "%41", "?x#y"])
def test_an_entity_id_is_one_percent_encoded_path_segment(entity_id: str) -> None:
    segment = path_segment(entity_id)
    assert segment == quote(entity_id, safe="")
    assert "/" not in segment
    assert unquote(segment) == entity_id


async def test_a_call_sends_the_current_traceparent_with_its_tracestate_unchanged(
    api: FakeDestinationApi, http: HttpClient
) -> None:
    state = "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7"
    parent = f"00-{'4bf92f3577b34da6a3ce929d0e0e4736'}-{'00f067aa0ba902b7'}-01"
    destination = HttpUpsert(HttpUpsertConfig(base_url=api.base_url, token=SecretStr(TOKEN)), http)
    with tracing.span(tracing.Tracer(), "deliver", parent, state=state) as trace:
        await destination.apply(change(), "key-1")
    with tracing.span(tracing.Tracer(), "deliver", parent) as untraced:
        await destination.apply(change("cust:2"), "key-2")
    first, second = (call.headers for call in api.calls)
    assert (first["traceparent"], first["tracestate"]) == (trace.header, state)
    assert second["traceparent"] == untraced.header
    assert "tracestate" not in second
