"""Spans exported over OTLP/HTTP with the OpenTelemetry SDK (the optional ``tracing`` extra).

Imported by :func:`hookline.tracing.create_tracer` only when an endpoint is configured, so a
pipeline without export never loads the SDK. Parsing and formatting ``traceparent`` go
through the SDK's W3C propagator; ``tracestate`` is checked by
:func:`hookline.tracing.parse_state` and propagated as received, as without the SDK. A
span's own id is the one propagated downstream, so the spans of the ingress, the
processors and the connectors form one tree in the backend.
Spans are batched and exported in the background; :meth:`OtelTracer.shutdown` flushes.
"""

from __future__ import annotations

from collections.abc import Mapping

from opentelemetry import trace
from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor
from opentelemetry.sdk.trace.sampling import ParentBased, TraceIdRatioBased
from opentelemetry.trace import SpanKind, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from hookline.settings import TracingSettings
from hookline.tracing import (
    TRACEPARENT,
    TRACESTATE,
    Span,
    TraceParent,
    Tracer,
    new_trace,
    parse,
)

_KINDS = {
    "server": SpanKind.SERVER,
    "consumer": SpanKind.CONSUMER,
    "producer": SpanKind.PRODUCER,
    "client": SpanKind.CLIENT,
    "internal": SpanKind.INTERNAL,
}


class _OtelSpan(Span):
    __slots__ = ("_span",)

    def __init__(self, traceparent: TraceParent, span: trace.Span) -> None:
        super().__init__(traceparent)
        self._span = span

    def end(self, error: BaseException | None = None) -> None:
        if error is not None:
            self._span.set_status(Status(StatusCode.ERROR, type(error).__name__))
        self._span.end()


class OtelTracer(Tracer):
    def __init__(self, settings: TracingSettings, service: str) -> None:
        self._provider = TracerProvider(
            resource=Resource.create({"service.name": service, "service.namespace": "hookline"}),
            sampler=ParentBased(TraceIdRatioBased(settings.sample_ratio)),
        )
        exporter = OTLPSpanExporter(
            endpoint=settings.otlp_endpoint, timeout=settings.export_timeout_seconds
        )
        self._provider.add_span_processor(BatchSpanProcessor(exporter))
        self._tracer = self._provider.get_tracer("hookline")
        self._propagator = TraceContextTextMapPropagator()

    def start(
        self,
        name: str,
        parent: str | bytes | None,
        *,
        kind: str = "internal",
        attributes: Mapping[str, str | int] | None = None,
        state: str | bytes | None = None,
    ) -> Span:
        if isinstance(parent, bytes):
            parent = parent.decode("ascii", errors="replace")
        given = parse(parent, state)
        carried = {TRACEPARENT: parent} if parent else {}
        if given is not None and given.state is not None:
            carried[TRACESTATE] = given.state
        context = self._propagator.extract(carried)
        span = self._tracer.start_span(
            name, context=context, kind=_KINDS[kind], attributes=dict(attributes or {})
        )
        carrier: dict[str, str] = {}
        self._propagator.inject(carrier, context=trace.set_span_in_context(span))
        # Not sampled: the SDK's span is not recording and injects nothing; still propagate.
        started = parse(carrier.get(TRACEPARENT)) or new_trace()
        if given is not None and started.trace_id == given.trace_id:
            started = started._replace(state=given.state)  # unchanged, as received
        return _OtelSpan(started, span)

    def shutdown(self) -> None:
        self._provider.shutdown()
