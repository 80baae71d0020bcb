"""Ingress metrics (see docs/metrics.md for the catalogue)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from functools import cache

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from ingress.providers.base import SIGNATURE_REASONS

UNKNOWN_SOURCE = "_unknown"


class IngressMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.requests = Counter(
            "hookline_ingress_requests_total",
            "Webhook requests answered, by source and HTTP status.",
            ["source", "status"],
            registry=registry,
        )
        self.verification_failures = Counter(
            "hookline_ingress_verification_failures_total",
            "Requests rejected by signature verification, by source and reason.",
            ["source", "reason"],
            registry=registry,
        )
        self.events_published = Counter(
            "hookline_ingress_events_published_total",
            "Events durably accepted by Kafka, by source.",
            ["source"],
            registry=registry,
        )
        self.publish_failures = Counter(
            "hookline_ingress_publish_failures_total",
            "Requests answered 503 because Kafka did not acknowledge in time, by source.",
            ["source"],
            registry=registry,
        )
        self.publish_latency = Histogram(
            "hookline_ingress_publish_latency_seconds",
            "Time from publish to Kafka acknowledgement of every record of a request.",
            ["source"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=registry,
        )
        self.request_body_bytes = Histogram(
            "hookline_ingress_request_body_bytes",
            "Size of accepted webhook bodies.",
            ["source"],
            buckets=(256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304),
            registry=registry,
        )
        self.in_flight = Gauge(
            "hookline_ingress_requests_in_flight",
            "Webhook requests being handled now.",
            registry=registry,
        )
        self.producer_queue = Gauge(
            "hookline_ingress_producer_queue_records",
            "Records waiting in the producer's queue for broker acknowledgement.",
            registry=registry,
        )

        self.producer_replacements = Counter(
            "hookline_ingress_producer_replacements_total",
            "Producers replaced after a fatal error (e.g. broken idempotence).",
            registry=registry,
        )
        self.connections_open = Gauge(
            "hookline_ingress_connections_open",
            "Connections this worker holds open on the public port.",
            registry=registry,
        )
        self.connections_refused = Counter(
            "hookline_ingress_connections_refused_total",
            "Connections answered 503 and closed because the worker held max_connections.",
            registry=registry,
        )

    def initialise(self, sources: Iterable[str]) -> None:
        """Create every source's failure series at 0 before anything fails: a labelled
        counter otherwise appears at its first increment, which ``rate()`` cannot see,
        and alert rules and dashboards would find no series."""
        for source in sources:
            self.publish_failures.labels(source)
            for reason in SIGNATURE_REASONS:
                self.verification_failures.labels(source, reason)

    def watch_connections(self, open_connections: Callable[[], int]) -> None:
        self.connections_open.set_function(open_connections)

    def watch_producer_queue(self, queue_length: Callable[[], int]) -> None:
        self.producer_queue.set_function(queue_length)

    @cache  # noqa: B019 - one entry per configured source, for the app's lifetime
    def for_source(self, source: str) -> SourceMetrics:
        """The per-source children, resolved once: ``labels()`` costs a lock and a lookup."""
        return SourceMetrics(
            accepted=self.requests.labels(source, "200"),
            published=self.events_published.labels(source),
            publish_latency=self.publish_latency.labels(source),
            body_bytes=self.request_body_bytes.labels(source),
        )


@dataclass(frozen=True, slots=True)
class SourceMetrics:
    accepted: Counter
    published: Counter
    publish_latency: Histogram
    body_bytes: Histogram
