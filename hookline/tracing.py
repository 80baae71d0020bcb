"""W3C Trace Context for one webhook across the stages, and the ``trace_id`` on log lines.

Guarantees:

- The ingress starts a span per webhook request: a child of the provider's
  ``traceparent`` when the request carries a valid one (same trace id, new span id), else
  a new trace. A malformed ``traceparent`` is ignored (a new trace), never an error.
- The ``traceparent`` travels in a Kafka header of the same name on every record Hookline
  writes for the webhook (raw record, canonical events, dead letters, retry records), and
  as the CloudEvents Distributed Tracing extension attribute ``traceparent`` inside each
  canonical event. Each stage continues it with a span of its own.
- The vendor-specific ``tracestate`` that came with a valid ``traceparent`` rides along
  unchanged (:func:`parse_state`: well-formed, at most 32 list-members and 512 characters,
  else dropped, never an error; dropped too when the ``traceparent`` is absent or
  invalid): a Kafka header ``tracestate`` beside ``traceparent``, the CloudEvents
  attribute ``tracestate`` beside ``traceparent``, and the HTTP header on connector calls.
  Hookline never adds a list-member of its own.
- While a span is current (:func:`span`, :func:`bound`) :func:`current` returns it: every
  log line carries its ``trace_id`` and ``span_id`` (:mod:`hookline.logs` reads them
  there), and :mod:`connectors.http` sends it to destinations.
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

from hookline.settings import TracingSettings

TRACEPARENT = "traceparent"
TRACESTATE = "tracestate"

_FORMAT = re.compile(r"00-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})")
# W3C Trace Context, tracestate list-member: key "=" value (both bounded, printable ASCII).
_KEY_CHARS = r"[a-z0-9_\-*/]"
_STATE_MEMBER = re.compile(
    rf"(?:[a-z]{_KEY_CHARS}{{0,255}}|[a-z0-9]{_KEY_CHARS}{{0,240}}@[a-z]{_KEY_CHARS}{{0,13}})"
    r"=[\x20-\x2b\x2d-\x3c\x3e-\x7e]{0,255}[\x21-\x2b\x2d-\x3c\x3e-\x7e]"
)
#: Propagate at most this many characters (the spec's recommended limit) ...
MAX_STATE_CHARS = 512
#: ... and list-members (the spec's maximum).
MAX_STATE_MEMBERS = 32
_ZERO_TRACE = "0" * 32
_ZERO_SPAN = "0" * 16
_current: ContextVar[TraceParent | None] = ContextVar("hookline_trace", default=None)


class TraceParent(NamedTuple):
    """One span's place in a trace: what a ``traceparent`` header says."""

    trace_id: str  # 32 lower-case hex digits, not all zeros
    span_id: str  # 16 lower-case hex digits, not all zeros
    flags: str = "01"  # sampled
    state: str | None = None  # the vendors' ``tracestate``, as received (parse_state)

    @property
    def header(self) -> str:
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceParent:
        """A new span of the same trace, with the same ``tracestate`` (not ours to change)."""
        return TraceParent(self.trace_id, _new_span_id(), self.flags, self.state)


def parse(value: str | bytes | None, state: str | bytes | None = None) -> TraceParent | None:
    """The ``traceparent`` in ``value``, carrying ``state`` when that is a well-formed
    ``tracestate`` (:func:`parse_state`); None when ``value`` is absent or malformed (then
    ``state`` is dropped with it). Never raises."""
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
    return TraceParent(trace_id, span_id, flags, parse_state(state))


def parse_state(value: str | bytes | None) -> str | None:
    """``value`` (surrounding blanks trimmed) when it is a well-formed W3C ``tracestate``
    of at most :data:`MAX_STATE_MEMBERS` list-members with distinct keys and at most
    :data:`MAX_STATE_CHARS` characters; None otherwise (absent, empty, malformed or too
    long: discarded whole, as the spec allows). Never raises."""
    if isinstance(value, bytes):
        value = value.decode("ascii", errors="replace")
    if not value:
        return None
    value = value.strip(" \t")
    if not value or len(value) > MAX_STATE_CHARS:
        return None
    keys: set[str] = set()
    for item in value.split(","):
        member = item.strip(" \t")
        if not member:
            continue  # empty list-members are allowed
        if _STATE_MEMBER.fullmatch(member) is None:
            return None
        key = member.split("=", 1)[0]
        if key in keys:
            return None
        keys.add(key)
    return value if 0 < len(keys) <= MAX_STATE_MEMBERS else None


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
    """The Kafka headers carrying ``trace``: ``traceparent``, and ``tracestate`` when it
    has one; none when there is no trace."""
    if trace is None:
        return []
    if trace.state is None:
        return [(TRACEPARENT, trace.header.encode())]
    return [(TRACEPARENT, trace.header.encode()), (TRACESTATE, trace.state.encode())]


def current() -> TraceParent | None:
    """The span this task is in, if any."""
    return _current.get()


class bound:
    """Make ``trace`` current for a block: :func:`current` returns it and log lines carry
    its ids. A class, not a generator: the ingress enters one per request. One context
    variable: binding the ids into structlog's as well cost twice as much again, per
    request, record and delivery."""

    __slots__ = ("_token", "trace")

    def __init__(self, trace: TraceParent) -> None:
        self.trace = trace

    def __enter__(self) -> TraceParent:
        self._token = _current.set(self.trace)
        return self.trace

    def __exit__(self, *_exc: object) -> None:
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
        state: str | bytes | None = None,
    ) -> Span:
        """A span continuing ``parent`` (a ``traceparent`` value) and its ``state`` (the
        ``tracestate`` beside it), or a new trace without state when ``parent`` is absent
        or malformed. ``kind``: server, consumer, producer, client or internal."""
        given = parse(parent, state)
        return Span(given.child() if given is not None else new_trace())

    def shutdown(self) -> None:
        """Export what is pending (nothing here)."""


class span:
    """Start a span continuing ``parent`` (a ``traceparent`` value; absent or malformed: a
    new trace) and ``state`` (its ``tracestate``), make it current for the block, end it
    (recording an exception)."""

    __slots__ = ("_bound", "_span")

    def __init__(
        self,
        tracer: Tracer,
        name: str,
        parent: str | bytes | None,
        *,
        kind: str = "internal",
        attributes: Mapping[str, str | int] | None = None,
        state: str | bytes | None = None,
    ) -> None:
        self._span = tracer.start(name, parent, kind=kind, attributes=attributes, state=state)
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
