"""The pollers' metrics, on a registry the caller gives (a fresh one per test).

Label values are bounded: poller and reconciliation names come from the config file,
``kind`` and ``status`` from fixed sets, never an entity or a cursor.
"""

from __future__ import annotations

from dataclasses import dataclass

from prometheus_client import CollectorRegistry, Counter, Gauge


@dataclass(frozen=True)
class PollerMetrics:
    records: Counter
    runs: Counter
    cursor_lag: Gauge
    mismatches: Gauge

    @classmethod
    def create(cls, registry: CollectorRegistry) -> PollerMetrics:
        return cls(
            records=Counter(
                "hookline_poller_records_total",
                "Records of polls and backfill pages: seen (read), changed (state hash "
                "differed), emitted (acknowledged by Kafka).",
                ["poller", "kind", "stage"],
                registry=registry,
            ),
            runs=Counter(
                "hookline_poller_runs_total",
                "Sync runs (poll, backfill page, reconcile) by status: ok, failed.",
                ["poller", "kind", "status"],
                registry=registry,
            ),
            cursor_lag=Gauge(
                "hookline_poller_cursor_lag_seconds",
                "Seconds between now and the poller's high-water mark after its last poll.",
                ["poller"],
                registry=registry,
            ),
            mismatches=Gauge(
                "hookline_reconcile_mismatches",
                "Entities that differ between two systems at the last reconciliation.",
                ["reconciliation", "pair", "family", "kind"],
                registry=registry,
            ),
        )
