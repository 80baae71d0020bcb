"""Connector metrics, created on a registry passed in (one per process, one per test).

Label values are bounded: connector names come from configuration, outcomes and
categories from the enums below, topics from the connector's own subscription.
"""

from __future__ import annotations

from enum import StrEnum

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from hookline.lag import LagMetrics
from hookline.outages import KAFKA, POSTGRESQL


class Outcome(StrEnum):
    """Every outcome a consumed record can have; each is durable before its commit."""

    APPLIED = "applied"  # the destination accepted it and its state is written
    SKIPPED_UNCHANGED = "skipped_unchanged"  # same state as last applied (or an echo)
    SKIPPED_STALE = "skipped_stale"  # older than the state applied
    SKIPPED_UNWANTED = "skipped_unwanted"  # the destination does not want this event
    RETRIED = "retried"  # written to a retry topic
    RESCHEDULED = "rescheduled"  # a retry woke up before due: moved to a shorter tier
    DEAD_LETTERED = "dead_lettered"  # written to the dead-letter topic
    CONFLICT = "conflict"  # not applied by the conflict policy (rejected or held)


#: Outcomes that count as the record having been dealt with successfully.
SETTLED = frozenset(
    {
        Outcome.APPLIED,
        Outcome.SKIPPED_UNCHANGED,
        Outcome.SKIPPED_STALE,
        Outcome.SKIPPED_UNWANTED,
        Outcome.CONFLICT,
    }
)


#: How a conflict policy resolved a conflict (label values of ``conflicts``).
CONFLICT_RESOLUTIONS = ("applied", "rejected", "held")
#: Outcomes of a batch (label values of ``batches``; see connectors.runner.batch_outcome).
BATCH_OUTCOMES = ("ok", "partial", "failed")
#: Why a connector's run ended and it was started again (label values of ``restarts``).
RESTART_CAUSES = (POSTGRESQL, KAFKA, "error")


class ConnectorMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.deliveries = Counter(
            "hookline_connector_deliveries_total",
            "Consumed records by connector and outcome (applied, skipped_unchanged, "
            "skipped_stale, skipped_unwanted, retried, dead_lettered, conflict).",
            ["connector", "outcome"],
            registry=registry,
        )
        self.call_duration = Histogram(
            "hookline_connector_call_duration_seconds",
            "Duration of external calls, by connector and category (success, retriable, "
            "permanent).",
            ["connector", "category"],
            buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
            registry=registry,
        )
        self.breaker_state = Gauge(
            "hookline_connector_breaker_state",
            "Circuit breaker of the connector's destination: 0 closed, 1 half-open, 2 open.",
            ["connector"],
            registry=registry,
        )
        self.rate_limit_tokens = Gauge(
            "hookline_connector_rate_limit_tokens",
            "Tokens left in the shared bucket after this instance's last take (negative: "
            "calls reserved ahead).",
            ["connector"],
            registry=registry,
        )
        self.consumer_lag = Gauge(
            "hookline_connector_consumer_lag_records",
            "Records not yet consumed on the partitions this instance holds, by topic.",
            ["connector", "topic"],
            registry=registry,
        )
        self.conflicts = Counter(
            "hookline_connector_conflicts_total",
            "Conflicts by connector, policy and resolution (applied, rejected, held).",
            ["connector", "policy", "resolution"],
            registry=registry,
        )
        self.batches = Counter(
            "hookline_connector_batches_total",
            "Batches by connector and outcome (ok, partial, failed).",
            ["connector", "outcome"],
            registry=registry,
        )
        self.failed_batches_in_a_row = Gauge(
            "hookline_connector_failed_batches_in_a_row",
            "Batches (sync runs) that failed one after the other; 0 after any batch that "
            "was not failed.",
            ["connector"],
            registry=registry,
        )
        self.lag = LagMetrics(registry)  # hookline_consumer_*: the groups' committed lag
        self.destination_up = Gauge(
            "hookline_destination_up",
            "1 when the last probe of the connector's destination API succeeded, else 0.",
            ["connector"],
            registry=registry,
        )
        self.probe_duration = Gauge(
            "hookline_destination_probe_duration_seconds",
            "Duration of the last probe of the connector's destination API.",
            ["connector"],
            registry=registry,
        )
        self.alerts = Counter(
            "hookline_connector_alerts_total",
            "Alerts raised by connector and kind, sent or suppressed by the rate limit.",
            ["connector", "kind", "sent"],
            registry=registry,
        )
        self.running = Gauge(
            "hookline_connector_running",
            "1 while the connector runs; 0 while it waits to start again after a failure.",
            ["connector"],
            registry=registry,
        )
        self.restarts = Counter(
            "hookline_connector_restarts_total",
            "Connector runs that ended in a failure, by cause: postgresql or kafka "
            "(unreachable for now: an outage) or error (anything else: a crash).",
            ["connector", "cause"],
            registry=registry,
        )

    def initialise(self, connector: str, policy: str) -> None:
        """Create ``connector``'s failure series at 0 before anything fails: a labelled
        counter otherwise appears at its first increment, which ``rate()`` cannot see,
        and alert rules and dashboards would find no series."""
        for outcome in Outcome:
            self.deliveries.labels(connector, outcome.value)
        for resolution in CONFLICT_RESOLUTIONS:
            self.conflicts.labels(connector, policy, resolution)
        for batch_outcome in BATCH_OUTCOMES:
            self.batches.labels(connector, batch_outcome)
        self.failed_batches_in_a_row.labels(connector).set(0)

    def supervising(self, connector: str) -> None:
        """``connector``'s restart series at 0 and its running gauge at 0, from before its
        first start (which an outage may hold up)."""
        for cause in RESTART_CAUSES:
            self.restarts.labels(connector, cause)
        self.running.labels(connector).set(0)
