"""W3C Trace Context for one webhook across the stages, and the ``trace_id`` on log lines.

Guarantees:

- The ingress starts a span per webhook request: a child of the provider's
  ``traceparent`` when the request carries a valid one (same trace id, new span id), else
  a new trace. A malformed ``traceparent`` is ignored (a new trace), never an error.
- The ``traceparent`` travels in a Kafka header of the same name on every record Hookline
  writes for the webhook (raw record, canonical events, dead letters, retry records), and
  as the CloudEvents Distributed Tracing extension attribute ``traceparent`` inside each
  canonical event. Each stage continues it with a span of its own.
- While a span is current (:func:`span`, :func:`bound`) every structlog line carries
  ``trace_id`` and ``span_id`` (structlog's contextvars), and :func:`current` returns it,
  which is how :mod:`connectors.http` sends it to destinations.
- Spans are exported over OTLP only when ``TracingSettings.otlp_endpoint`` is set. Then
  the OpenTelemetry SDK (the optional ``tracing`` extra) parses, formats and exports, in
  :mod:`hookline.otel`; otherwise the SDK is never imported, and the strict parser below
  reads the 55-character version ``00`` format (lower-case hex, ids not all zeros).
"""

from __future__ import annotations

import random
import re
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from typing import NamedTuple

import structlog

from hookline.settings import TracingSettings

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

_FORMAT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_current: ContextVar[TraceParent | None] = ContextVar("hookline_trace", default=None)


class TraceParent(NamedTuple):
    """One span's place in a trace: what a ``traceparent`` header says."""

    trace_id: str  # 32 lower-case hex digits, not all zeros
    span_id: str  # 16 lower-case hex digits, not all zeros
    flags: str = "01"  # sampled

    @property
    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceParent:
        """A new span of the same trace."""
        return TraceParent(self.trace_id, _new_span_id(), self.flags)


def parse(value: str | bytes | None) -> TraceParent | None:
    """The ``traceparent`` in ``value``; None when absent or malformed (never raises)."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not value:
        return None
    match = _FORMAT.fullmatch(value.strip())
    if match is None:
        return None
    trace_id, span_id, flags = match.groups()
    if trace_id == _ZERO_TRACE or span_id == _ZERO_SPAN:
        return None
    return TraceParent(trace_id, span_id, flags)


def new_trace() -> TraceParent:
    # Random, not secret: the SDK's own id generator uses the same generator.
    trace_id = f"{random.getrandbits(128) or 1:032x}"
    return TraceParent(trace_id, _new_span_id())


def _new_span_id() -> str:
    return f"{random.getrandbits(64) or 1:016x}"


def header(headers: Iterable[tuple[str, bytes | None]], name: str = TRACEPARENT) -> bytes | None:
    """The value of Kafka header ``name`` (the last one wins, as for HTTP); None if absent."""
    found = None
    for key, value in headers:
        if key == name:
            found = value
    return found


def kafka_headers(trace: TraceParent | None) -> list[tuple[str, bytes]]:
    """The Kafka header carrying ``trace``; none when there is no trace."""
    return [] if trace is None else [(TRACEPARENT, trace.header.encode())]


def current() -> TraceParent | None:
    """The span this task is in, if any."""
    return _current.get()


class bound:
    """Make ``trace`` current for a block: :func:`current` returns it and log lines carry
    its ids. A class, not a generator: the ingress enters one per request."""

    __slots__ = ("_token", "_tokens", "trace")

    def __init__(self, trace: TraceParent) -> None:
        self.trace = trace

    def __enter__(self) -> TraceParent:
        trace = self.trace
        self._token = _current.set(trace)
        self._tokens = structlog.contextvars.bind_contextvars(
            trace_id=trace.trace_id, span_id=trace.span_id
        )
        return trace

    def __exit__(self, *_exc: object) -> None:
        structlog.contextvars.reset_contextvars(**self._tokens)
        _current.reset(self._token)


class Span:
    """A started span: its ``traceparent`` goes downstream; :meth:`end` once, when done."""

    __slots__ = ("traceparent",)

    def __init__(self, traceparent: TraceParent) -> None:
        self.traceparent = traceparent

    def end(self, error: BaseException | None = None) -> None:
        """Nothing to export without the SDK."""


class Tracer:
    """Spans that only propagate: ids and headers, nothing exported (the default)."""

    def start(
        self,
        name: str,
        parent: str | bytes | None,
        *,
        kind: str = "internal",
        attributes: Mapping[str, str | int] | None = None,
    ) -> Span:
        """A span continuing ``parent`` (a ``traceparent`` value), or a new trace when
        ``parent`` is absent or malformed. ``kind``: server, consumer, producer, client
        or internal."""
        given = parse(parent)
        return Span(given.child() if given is not None else new_trace())

    def shutdown(self) -> None:
        """Export what is pending (nothing here)."""


class span:
    """Start a span continuing ``parent`` (a ``traceparent`` value; absent or malformed: a
    new trace), make it current for the block, end it (recording an exception)."""

    __slots__ = ("_bound", "_span")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        parent: str | bytes | None,
        *,
        kind: str = "internal",
        attributes: Mapping[str, str | int] | None = None,
    ) -> None:
        self._span = tracer.start(name, parent, kind=kind, attributes=attributes)
        self._bound = bound(self._span.traceparent)

    def __enter__(self) -> TraceParent:
        return self._bound.__enter__()

    def __exit__(self, _type: object, error: BaseException | None, _tb: object) -> None:
        self._bound.__exit__()
        self._span.end(error)


def create_tracer(settings: TracingSettings, service: str) -> Tracer:
    """The service's tracer: exporting over OTLP when an endpoint is configured (the SDK
    is imported only then), else propagation only."""
    if not settings.otlp_endpoint:
        return Tracer()
    from hookline.otel import OtelTracer  # noqa: PLC0415 - the SDK only when export is on

    return OtelTracer(settings, service)
