"""W3C trace context (hookline.tracing): strict parsing, continuing a provider's trace,
trace ids on every log line, and OTLP export only when configured."""

from __future__ import annotations

import io
import subprocess
import sys
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer

import orjson
import pytest
from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

from hookline import tracing
from hookline.logs import configure_logging, get_logger
from hookline.settings import LogSettings, TracingSettings
from tests.conftest import ROOT

VALID = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01"


def test_a_valid_traceparent_is_parsed() -> None:
    parsed = tracing.parse(VALID.encode())
    assert parsed == tracing.TraceParent("0af7651916cd43dd8448eb211c80319c", "b7ad6b7169203331")
    assert parsed.header == VALID


@pytest.mark.parametrize(
    "value",
    [
        "",
        "garbage",
        VALID.upper(),  # hex must be lower case
        "01" + VALID[2:],  # only version 00 has this format
        VALID + "-extra",
        "00-" + "0" * 32 + "-b7ad6b7169203331-01",  # all-zero trace id
        "00-0af7651916cd43dd8448eb211c80319c-" + "0" * 16 + "-01",  # all-zero span id
        "00-0af7651916cd43dd8448eb211c8031-b7ad6b7169203331-01",  # short trace id
        b"\xff\xfe",
    ],
)
def test_a_malformed_traceparent_is_ignored(value: str | bytes) -> None:
    assert tracing.parse(value) is None
    started = tracing.Tracer().start("x", value)
    assert started.traceparent.trace_id != "0af7651916cd43dd8448eb211c80319c"
    assert tracing.parse(started.traceparent.header) == started.traceparent


def test_a_span_continues_its_parent_with_a_new_span_id() -> None:
    child = tracing.Tracer().start("x", VALID).traceparent
    assert child.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert child.span_id != "b7ad6b7169203331"
    assert child.flags == "01"


def test_log_lines_carry_the_trace_id_only_inside_the_span() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(format="json"), stream=stream)
    log = get_logger("hookline.test")
    with tracing.span(tracing.Tracer(), "x", VALID) as trace:
        log.info("inside")
        assert tracing.current() == trace
    log.info("outside")
    inside, outside = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert inside["trace_id"] == "0af7651916cd43dd8448eb211c80319c"
    assert inside["span_id"] == trace.span_id
    assert "trace_id" not in outside
    assert tracing.current() is None


def test_without_an_endpoint_the_sdk_is_never_imported() -> None:
    code = (
        "import sys\n"
        "from hookline.settings import TracingSettings\n"
        "from hookline.tracing import create_tracer\n"
        "import ingress.app, processors.app, connectors.http\n"
        "tracer = create_tracer(TracingSettings(), 'test')\n"
        "tracer.start('x', None).end()\n"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    assert out.stdout.strip() == "[]", out.stdout


class _Collector(BaseHTTPRequestHandler):
    received: list[ExportTraceServiceRequest] = []  # noqa: RUF012 - one server per test

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        request = ExportTraceServiceRequest()
        request.ParseFromString(body)
        self.received.append(request)
        self.send_response(200)
        self.send_header("Content-Type", "application/x-protobuf")
        self.end_headers()

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def collector() -> Iterator[tuple[str, list[ExportTraceServiceRequest]]]:
    """A local OTLP/HTTP traces endpoint recording what it is sent."""
    received: list[ExportTraceServiceRequest] = []
    handler = type("Collector", (_Collector,), {"received": received})
    server = HTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}/v1/traces", received
    server.shutdown()
    server.server_close()


def test_spans_are_exported_over_otlp_when_an_endpoint_is_set(
    collector: tuple[str, list[ExportTraceServiceRequest]],
) -> None:
    endpoint, received = collector
    tracer = tracing.create_tracer(TracingSettings(otlp_endpoint=endpoint), "hookline-test")
    with tracing.span(tracer, "receive webhook", VALID, kind="server") as trace:
        pass
    tracer.shutdown()  # flushes the batch
    spans = [
        (resource, span)
        for request in received
        for resource in request.resource_spans
        for scope in resource.scope_spans
        for span in scope.spans
    ]
    assert len(spans) == 1
    resource, span = spans[0]
    assert span.name == "receive webhook"
    assert span.trace_id.hex() == trace.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert span.span_id.hex() == trace.span_id  # the id propagated is the exported span's
    assert span.parent_span_id.hex() == "b7ad6b7169203331"
    names = {a.key: a.value.string_value for a in resource.resource.attributes}
    assert names["service.name"] == "hookline-test"


STATE = "congo=t61rcWkgMzE, rojo=00f067aa0ba902b7,tenant1@vendor=a b"


@pytest.mark.parametrize(
    "value",
    [
        STATE,
        "rojo=00f067aa0ba902b7",
        "a=1,,b=2",  # empty list-members are allowed
        ",".join(f"k{i}=v" for i in range(32)),  # the maximum number of list-members
        ",".join(f"k{i:02}=" + "v" * 11 for i in range(32)),  # 511 characters
    ],
)
def test_a_well_formed_tracestate_is_kept_unchanged(value: str) -> None:
    assert tracing.parse_state(value) == value
    assert tracing.parse_state(f" {value}\t".encode()) == value


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        " , ",
        "no-equals-sign",
        "Upper=1",  # keys are lower case
        "1key=v",  # a simple key starts with a letter
        "k=v=w",  # '=' is not allowed in a value
        "k=\u00e9",  # printable ASCII only
        "a=1,a=2",  # keys are unique
        ",".join(f"k{i}=v" for i in range(33)),  # more than 32 list-members
        "k=" + "v" * 254 + ",l=" + "w" * 256,  # a value over 256 characters
        ",".join(f"k{i:03}=" + "v" * 20 for i in range(21)),  # 545 characters, > 512
    ],
)
def test_a_malformed_or_oversized_tracestate_is_dropped(value: str | None) -> None:
    assert tracing.parse_state(value) is None


def test_the_tracestate_travels_with_a_valid_traceparent_only() -> None:
    child = tracing.Tracer().start("x", VALID, state=STATE.encode()).traceparent
    assert child.state == STATE
    assert child.child().state == STATE
    assert tracing.kafka_headers(child) == [
        ("traceparent", child.header.encode()),
        ("tracestate", STATE.encode()),
    ]
    orphan = tracing.Tracer().start("x", None, state=STATE).traceparent
    assert orphan.state is None
    assert tracing.kafka_headers(orphan) == [("traceparent", orphan.header.encode())]
    assert tracing.Tracer().start("x", "00-bad-01", state=STATE).traceparent.state is None
    assert tracing.Tracer().start("x", VALID, state="k=v=w").traceparent.state is None


def test_the_sdk_tracer_propagates_the_tracestate_unchanged(
    collector: tuple[str, list[ExportTraceServiceRequest]],
) -> None:
    endpoint, _ = collector
    tracer = tracing.create_tracer(TracingSettings(otlp_endpoint=endpoint), "hookline-test")
    with tracing.span(tracer, "receive webhook", VALID, kind="server", state=STATE) as trace:
        assert tracing.current() == trace
    assert trace.trace_id == "0af7651916cd43dd8448eb211c80319c"
    assert trace.state == STATE
    assert tracer.start("x", None, state=STATE).traceparent.state is None
    tracer.shutdown()
