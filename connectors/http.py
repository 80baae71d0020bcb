"""The HTTP client destinations call through: every call audited, measured and classified.

The current span's W3C ``traceparent`` (hookline.tracing), and the ``tracestate`` it
carries unchanged, are sent with every call made while delivering a change, unless the
caller set a ``traceparent`` of its own. Each call is logged once as
structured JSON (event ``external call``, with the span's ``trace_id``): connector,
method, URL without credentials, request headers with secrets masked, status, response
body truncated to 1 KB, duration and error category. Its duration feeds
``hookline_connector_call_duration_seconds``; ``on_call`` gets its category (the daily
digest's counts, :mod:`connectors.call_log`). Responses and client exceptions are mapped
onto the error tree by :mod:`connectors.errors`, the only place that decides; redirects
are not followed. Rate-limit headers that vendors document are parsed into a
:class:`~connectors.errors.RateLimitHint` on the response or the error.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any

import aiohttp
import orjson

from connectors.errors import (
    MAX_BODY_CHARS,
    Category,
    DeliveryError,
    RateLimitHint,
    RetriableError,
    error_for_exception,
    error_for_status,
)
from connectors.metrics import ConnectorMetrics
from hookline.dead_letter import scrub
from hookline.logs import REDACTED, get_logger, secret_name
from hookline.tracing import TRACEPARENT, TRACESTATE
from hookline.tracing import current as current_trace

log = get_logger("hookline.connectors.http")

_EPOCH_THRESHOLD = 1_000_000_000  # a reset header above this is a Unix time, not seconds


@dataclass(frozen=True, slots=True)
class HttpResponse:
    """A 2xx response, read whole."""

    status: int
    headers: Mapping[str, str]
    body: bytes
    rate_limit: RateLimitHint | None

    def json(self) -> Any:
        return orjson.loads(self.body) if self.body else None


class HttpClient:
    """One aiohttp session per connector; created on first use, closed by the runner."""

    def __init__(
        self,
        connector: str,
        metrics: ConnectorMetrics,
        *,
        timeout_seconds: float,
        extra_retriable: frozenset[int] = frozenset(),
        max_connections: int = 100,
        on_call: Callable[[Category], None] | None = None,
    ) -> None:
        self._connector = connector
        self._on_call = on_call  # e.g. connectors.call_log.CallTally.record
        self._metrics = metrics
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._extra_retriable = extra_retriable
        self._max_connections = max_connections
        self._session: aiohttp.ClientSession | None = None
        # The histogram's children, looked up once instead of per call.
        self._durations = {c: metrics.call_duration.labels(connector, c.value) for c in Category}

    async def request(
        self,
        method: str,
        url: str,
        *,
        json: Any = None,
        form: Mapping[str, str] | None = None,
        headers: Mapping[str, str] | None = None,
        encoded: bytes | None = None,
    ) -> HttpResponse:
        """Send one request (a ``json`` body, or ``encoded``: one encoded already, or a
        form-encoded ``form``); return the 2xx response or raise a DeliveryError. The
        body sent is never logged."""
        started = time.perf_counter()
        sent = dict(headers or {})
        names = {name.lower() for name in sent}  # header names are case-insensitive
        _add_trace(sent, names)
        call = _Call(self._connector, method, url, sent)
        if json is not None and encoded is None:
            encoded = orjson.dumps(json)  # bytes: no text round trip through aiohttp
        if encoded is not None and "content-type" not in names:
            sent["Content-Type"] = "application/json"
        try:
            response = await self._send(call, encoded, form)
        except Exception as exc:
            error = error_for_exception(exc)
            self._finish(call, started, _category(error), error=str(error))
            raise error from exc
        text = response.body[:MAX_BODY_CHARS].decode(errors="replace")
        failure = error_for_status(
            response.status,
            text,
            retry_after=response.rate_limit.retry_after if response.rate_limit else None,
            rate_limit=response.rate_limit,
            extra_retriable=self._extra_retriable,
        )
        category = Category.SUCCESS if failure is None else _category(failure)
        self._finish(call, started, category, status=response.status, body=text)
        if failure is not None:
            raise failure
        return response

    async def _send(
        self, call: _Call, encoded: bytes | None, form: Mapping[str, str] | None
    ) -> HttpResponse:
        session = self._open()
        data = dict(form) if form is not None else encoded
        async with session.request(
            call.method,
            call.url,
            data=data,
            headers=call.headers,
            allow_redirects=False,
        ) as resp:
            body = await resp.read()
        headers = resp.headers  # read-only, and kept after the connection is released
        return HttpResponse(resp.status, headers, body, rate_limit_from_headers(headers))

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            # As many pooled keep-alive connections as calls in flight: none is opened
            # per call once the pool is warm, and none waits for a free one.
            connector = aiohttp.TCPConnector(
                limit=self._max_connections, limit_per_host=self._max_connections
            )
            self._session = aiohttp.ClientSession(timeout=self._timeout, connector=connector)
        return self._session

    def _finish(
        self,
        call: _Call,
        started: float,
        category: Category,
        *,
        status: int | None = None,
        body: str | None = None,
        error: str | None = None,
    ) -> None:
        duration = time.perf_counter() - started
        self._durations[category].observe(duration)
        if self._on_call is not None:
            self._on_call(category)
        log.info(
            "external call",
            connector=self._connector,
            method=call.method,
            url=scrub(call.url),
            request_headers=sanitise_headers(call.headers),
            status=status,
            response_body=scrub(body) if body is not None else None,
            duration_ms=round(duration * 1000, 2),
            category=category.value,
            error=scrub(error) if error else None,
        )

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()


@dataclass(frozen=True, slots=True)
class _Call:
    connector: str
    method: str
    url: str
    headers: dict[str, str]


def _add_trace(headers: dict[str, str], names: set[str]) -> None:
    """Add the current span's ``traceparent`` and ``tracestate``, if any, to ``headers``
    (whose lower-cased names are ``names``); a caller's own ``traceparent`` keeps its own
    state, or none."""
    trace = current_trace()
    if trace is not None and TRACEPARENT not in names:
        headers[TRACEPARENT] = trace.header
        if trace.state is not None and TRACESTATE not in names:
            headers[TRACESTATE] = trace.state


def _category(error: DeliveryError) -> Category:
    return Category.RETRIABLE if isinstance(error, RetriableError) else Category.PERMANENT


def sanitise_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """Headers fit for a log line: credentials masked, everything else kept."""
    return {k: (REDACTED if secret_name(k) else v) for k, v in headers.items()}


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds: delta-seconds or an HTTP date; None when absent/invalid."""
    if value is None or not value.strip():
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


def rate_limit_from_headers(
    headers: Mapping[str, str], now: datetime | None = None
) -> RateLimitHint | None:
    """The rate-limit headers vendors document: IETF ``RateLimit-*``, ``X-RateLimit-*``,
    HubSpot's ``X-HubSpot-RateLimit-*``, Shopify REST's ``X-Shopify-Shop-Api-Call-Limit``,
    and ``Retry-After``. None when the response has none of them."""
    if not any(name in headers for name in _RATE_LIMIT_HEADERS):
        return None  # most answers: one pass instead of the parsing below
    remaining = _number(headers, *_REMAINING)
    if remaining is None:
        remaining = _shopify_remaining(headers.get(_SHOPIFY_CALL_LIMIT, ""))
    reset = _reset_seconds(headers, now)
    retry_after = parse_retry_after(headers.get(_RETRY_AFTER), now)
    if remaining is None and reset is None and retry_after is None:
        return None
    return RateLimitHint(remaining=remaining, reset_seconds=reset, retry_after=retry_after)


_REMAINING = ("RateLimit-Remaining", "X-RateLimit-Remaining", "X-HubSpot-RateLimit-Remaining")
_SHOPIFY_CALL_LIMIT = "X-Shopify-Shop-Api-Call-Limit"
_RESET = ("RateLimit-Reset", "X-RateLimit-Reset")
_HUBSPOT_INTERVAL = "X-HubSpot-RateLimit-Interval-Milliseconds"
_RETRY_AFTER = "Retry-After"
#: Every header :func:`rate_limit_from_headers` reads.
_RATE_LIMIT_HEADERS = (*_REMAINING, _SHOPIFY_CALL_LIMIT, *_RESET, _HUBSPOT_INTERVAL, _RETRY_AFTER)


def _reset_seconds(headers: Mapping[str, str], now: datetime | None) -> float | None:
    reset = _number(headers, *_RESET)
    if reset is not None and reset > _EPOCH_THRESHOLD:
        return max(0.0, reset - (now or datetime.now(UTC)).timestamp())
    if reset is None:
        interval_ms = _number(headers, _HUBSPOT_INTERVAL)
        reset = interval_ms / 1000 if interval_ms is not None else None
    return reset


def _shopify_remaining(value: str) -> float | None:
    used, _, limit = value.partition("/")
    used_n, limit_n = _float(used), _float(limit)
    return limit_n - used_n if used_n is not None and limit_n is not None else None


def _number(headers: Mapping[str, str], *names: str) -> float | None:
    for name in names:
        value = _float(headers.get(name))
        if value is not None:
            return value
    return None


def _float(text: str | None) -> float | None:
    try:
        return float(text) if text is not None else None
    except ValueError:
        return None
