"""Processor metrics (see docs/metrics.md)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

#: Outcomes of one raw record. Bounded: they are label values.
OUTCOMES = ("forwarded", "duplicate", "dead_lettered")


class ProcessorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.records = Counter(
            "hookline_processor_records_total",
            "Raw records processed, by provider and outcome (forwarded, duplicate, dead_lettered).",
            ["provider", "outcome"],
            registry=registry,
        )
        self.events = Counter(
            "hookline_processor_events_total",
            "Canonical events produced to the normalised topics, by family.",
            ["family"],
            registry=registry,
        )
        self.dead_letters = Counter(
            "hookline_processor_dead_letters_total",
            "Raw records dead-lettered, by exception class.",
            ["error"],
            registry=registry,
        )
        self.dead_letter_write_failures = Counter(
            "hookline_processor_dead_letter_write_failures_total",
            "Failed attempts to write a dead letter (each is retried), by exception class.",
            ["error"],
            registry=registry,
        )
        self.dead_letter_blocked = Gauge(
            "hookline_processor_dead_letter_blocked",
            "1 while a dead-letter write keeps failing: the worker's partitions are stalled "
            "and /readyz answers 503; 0 otherwise.",
            registry=registry,
        )
        self.publish_retries = Counter(
            "hookline_processor_publish_retries_total",
            "Writes sent again because Kafka could not take them for now (broker down, "
            "timed out), by what was written: output or changelog.",
            ["what"],
            registry=registry,
        )
        self.skipped = Counter(
            "hookline_processor_skipped_records_total",
            "Raw records the consumer skipped (not delivered, yet about to be committed) "
            "and the worker read again (processors.skipped).",
            registry=registry,
        )
        self.latency = Histogram(
            "hookline_processor_record_seconds",
            "Time to dedupe, normalise and durably produce one raw record.",
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5),
            registry=registry,
        )
