"""The ingress HTTP service.

``POST /webhooks/{source}``: find the source, read the body (bounded), verify, publish,
answer. 200 only after Kafka acknowledged every record; 401 / 404 / 408 / 413 / 503
otherwise, always as a small JSON body ``{"error": code, "message": text}``.

Slow clients are bounded: a request head must be complete ``header_timeout_seconds`` after
connecting (or after the previous response), the body ``body_timeout_seconds`` after the
head (else 408 and the connection is closed); a body refused or cut off is drained for at
most aiohttp's lingering time (10 s) so the client can read the answer. The number of
open connections is bounded in ``ingress.connections``. ``/healthz`` (alive),
``/readyz`` (producer usable and Kafka reachable); nothing else: ``/metrics`` is served by
:func:`create_metrics_app` on an internal listener, never on the public port.
"""

from __future__ import annotations

import asyncio
import itertools
import re
import time
import uuid
from collections.abc import AsyncIterator, Mapping
from datetime import UTC, datetime

import orjson
from aiohttp import web
from prometheus_client import CollectorRegistry

from hookline.kafka_clients import AsyncProducer, PublishError, producer_config
from hookline.logs import get_logger
from hookline.metrics import metrics_handler, new_registry
from hookline.settings import Settings
from hookline.topics import Topics
from hookline.tracing import TRACEPARENT, TRACESTATE, TraceParent, Tracer, create_tracer, span
from ingress.metrics import UNKNOWN_SOURCE, IngressMetrics
from ingress.providers import REGISTRY
from ingress.providers.base import RawRequest, SignatureError, SourceConfig
from ingress.publisher import Publisher, ReplacementPending

SETTINGS = web.AppKey("settings", Settings)
SOURCES = web.AppKey("sources", dict[str, SourceConfig])
METRICS = web.AppKey("metrics", IngressMetrics)
PUBLISHER = web.AppKey("publisher", Publisher)
METRICS_REGISTRY = web.AppKey("metrics_registry", CollectorRegistry)
TRACER = web.AppKey("tracer", Tracer)

_REQUEST_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_READ_CHUNK = 65536
log = get_logger("hookline.ingress")


class BodyTooLarge(Exception):
    pass


def json_response(payload: object, status: int = 200, **headers: str) -> web.Response:
    return web.Response(
        body=orjson.dumps(payload),
        status=status,
        content_type="application/json",
        headers=headers or None,
    )


def error_response(status: int, code: str, message: str, **headers: str) -> web.Response:
    return json_response({"error": code, "message": message}, status, **headers)


async def receive_webhook(request: web.Request) -> web.Response:
    """Whatever fails answers JSON: a client never sees a traceback or a secret. The
    request is one span, continuing the provider's ``traceparent`` when valid (and the
    ``tracestate`` beside it, when well-formed); every log line of the request carries its
    trace id."""
    parent = request.headers.get(TRACEPARENT)
    # Several tracestate headers are one list (W3C: combined as HTTP allows).
    state = ",".join(request.headers.getall(TRACESTATE, ())) if parent else None
    tracer = request.app[TRACER]
    with span(tracer, "receive webhook", parent, kind="server", state=state) as trace:
        try:
            return await _receive_webhook(request, trace)
        except Exception:
            log.exception("unhandled error", path=request.path)
            return error_response(500, "internal_error", "internal error")


async def _receive_webhook(request: web.Request, trace: TraceParent) -> web.Response:
    app = request.app
    metrics = app[METRICS]
    name = request.match_info["source"]
    source = app[SOURCES].get(name)
    if source is None:
        metrics.requests.labels(UNKNOWN_SOURCE, "404").inc()
        return error_response(404, "unknown_source", "no webhook source is configured at this path")
    with metrics.in_flight.track_inprogress():
        response = await _handle_source(request, source, trace)
    if response.status == 200:
        metrics.for_source(name).accepted.inc()
    else:
        metrics.requests.labels(name, str(response.status)).inc()
    return response


async def _handle_source(
    request: web.Request, source: SourceConfig, trace: TraceParent
) -> web.Response:
    app = request.app
    settings, metrics = app[SETTINGS].ingress, app[METRICS]
    request_id = _request_id(request)
    received_at = datetime.now(UTC)
    limit = source.max_body_bytes or settings.default_max_body_bytes
    try:
        async with asyncio.timeout(settings.body_timeout_seconds):
            body = await read_body_limited(request, limit)
    except BodyTooLarge:
        return error_response(413, "body_too_large", f"body exceeds {limit} bytes")
    except TimeoutError:
        response = error_response(408, "body_timeout", "the body did not arrive in time")
        response.force_close()
        return response
    raw = RawRequest(request.method, lambda: str(request.url), request.headers, body)
    provider = REGISTRY[source.provider]
    try:
        webhook = provider.verify(raw, source, time.time())
    except SignatureError as exc:
        metrics.verification_failures.labels(source.name, exc.reason).inc()
        log.info("webhook rejected", source=source.name, reason=exc.reason, request_id=request_id)
        return error_response(401, exc.reason, "signature verification failed")
    started = time.perf_counter()
    try:
        async with asyncio.timeout(settings.publish_timeout_seconds):
            await app[PUBLISHER].publish(webhook, request_id, received_at, trace)
    except (PublishError, TimeoutError) as exc:
        metrics.publish_failures.labels(source.name).inc()
        log.warning("publish failed", source=source.name, request_id=request_id, error=str(exc))
        return error_response(
            503,
            "unavailable",
            "event store unavailable, retry later",
            **{"Retry-After": str(settings.retry_after_seconds)},
        )
    per_source = metrics.for_source(source.name)
    per_source.publish_latency.observe(time.perf_counter() - started)
    per_source.published.inc(len(webhook.events))
    per_source.body_bytes.observe(len(body))
    event_ids = [e.event_id for e in webhook.events]
    # The line that ties the provider's event IDs to the trace followed downstream.
    log.info("webhook accepted", source=source.name, event_ids=event_ids, request_id=request_id)
    return json_response(
        {
            "status": "accepted",
            "source": source.name,
            "event_ids": event_ids,
            "request_id": request_id,
        }
    )


async def read_body_limited(request: web.Request, limit: int) -> bytes:
    """Read at most ``limit`` bytes; raise BodyTooLarge without reading further."""
    declared = request.content_length
    if declared is not None:
        if declared > limit:
            raise BodyTooLarge
        # The HTTP parser delivers exactly Content-Length bytes: one read, no loop.
        return await request.content.readexactly(declared)
    chunks, size = [], 0
    while chunk := await request.content.read(_READ_CHUNK):
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
    return b"".join(chunks)


def _request_id(request: web.Request) -> str:
    given = request.headers.get("X-Request-Id", "")
    return given if _REQUEST_ID.match(given) else request.app[REQUEST_IDS].next()


class RequestIds:
    """Unique, not secret: a random per-process prefix and a counter cost nothing, where
    uuid4 reads the kernel's random source on every request."""

    def __init__(self) -> None:
        self._prefix = uuid.uuid4().hex[:12]
        self._counter = itertools.count()

    def next(self) -> str:
        return f"{self._prefix}{next(self._counter):012x}"


REQUEST_IDS = web.AppKey("request_ids", RequestIds)


async def healthz(_request: web.Request) -> web.Response:
    return json_response({"status": "alive"})


async def readyz(request: web.Request) -> web.Response:
    """Ready when the producer is usable and reaches a broker. A producer that failed
    fatally answers not ready until it is replaced (with backoff, ingress.publisher), and
    once more when it is."""
    try:
        producer, replaced = request.app[PUBLISHER].usable_producer()
    except ReplacementPending as exc:
        return error_response(503, "not_ready", str(exc))
    if replaced:
        return error_response(503, "not_ready", "the Kafka producer failed and was replaced")
    if await asyncio.to_thread(producer.broker_reachable, 2.0):
        return json_response({"status": "ready"})
    return error_response(503, "not_ready", "Kafka is not reachable")


async def method_not_allowed(_request: web.Request) -> web.Response:
    return error_response(405, "method_not_allowed", "webhooks are POSTed", Allow="POST")


async def not_found(_request: web.Request) -> web.Response:
    return error_response(404, "not_found", "no such endpoint")


def create_app(
    settings: Settings,
    sources: Mapping[str, SourceConfig],
    registry: CollectorRegistry | None = None,
) -> web.Application:
    # No middleware: every route answers JSON itself, which keeps the webhook path free of
    # a wrapper per request; the catch-all routes below answer other paths and methods.
    # keepalive_timeout: aiohttp closes a connection that has not delivered a complete
    # request head this long after connecting or after its previous response, which bounds
    # slow headers and idle keep-alive alike. The body is bounded in the handler.
    handler_args = {
        "max_field_size": 16384,
        "keepalive_timeout": settings.ingress.header_timeout_seconds,
    }
    app = web.Application(handler_args=handler_args)
    registry = registry or new_registry()
    app[SETTINGS] = settings
    app[SOURCES] = dict(sources)
    app[METRICS] = IngressMetrics(registry)
    app[METRICS].initialise(sources)
    app[METRICS_REGISTRY] = registry
    app[REQUEST_IDS] = RequestIds()
    app[TRACER] = create_tracer(settings.tracing, "hookline-ingress")
    app.router.add_post("/webhooks/{source}", receive_webhook)
    app.router.add_post("/webhooks/{source}/", receive_webhook)
    app.router.add_get("/healthz", healthz)
    app.router.add_get("/readyz", readyz)
    for path in ("/webhooks/{source}", "/webhooks/{source}/"):
        app.router.add_route("*", path, method_not_allowed)
    app.router.add_route("*", "/{tail:.*}", not_found)
    app.cleanup_ctx.append(_kafka_producer)
    return app


def create_metrics_app(registry: CollectorRegistry) -> web.Application:
    """The internal listener's app: ``GET /metrics`` (Prometheus text) and nothing else."""
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(registry))
    return app


async def _kafka_producer(app: web.Application) -> AsyncIterator[None]:
    settings, metrics = app[SETTINGS], app[METRICS]
    config = producer_config(settings.kafka, "ingress")
    publisher = Publisher(
        lambda: AsyncProducer(config),
        Topics(settings.kafka.topic_prefix),
        on_replaced=metrics.producer_replacements.inc,
    )
    app[PUBLISHER] = publisher
    metrics.watch_producer_queue(publisher.queue_length)
    yield
    remaining = await asyncio.to_thread(
        publisher.producer.close, settings.ingress.shutdown_timeout_seconds
    )
    if remaining:
        log.error("records left unacknowledged at shutdown", records=remaining)
    app[TRACER].shutdown()  # exports the spans still batched
