"""Every Kafka topic Hookline uses, declared in one place.

Names derive from one prefix (``HOOKLINE_KAFKA__TOPIC_PREFIX``, default ``hookline``), so
that a test, or a second deployment on a shared cluster, gets its own set.

=====================================  =========================  ==========================
topic                                  key (the ordering unit)    value
=====================================  =========================  ==========================
``{p}.raw.webhooks``                   ``{source}:{event_id}``    raw webhook body, unchanged
``{p}.raw.webhooks.dlq``               as the original record     original record + context
``{p}.events.{family}``                ``{family}:{entity id}``   CloudEvents JSON (schemas)
``{p}.connector.{name}.retry``         as the original record     original record + due time
``{p}.connector.{name}.retry.{t}s``    as the original record     same, one per retry tier
``{p}.connector.{name}.dlq``           as the original record     original record + context
=====================================  =========================  ==========================

The raw key puts every redelivery of one provider event on one partition, which is what
lets the processors dedupe per partition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

DAY_MS = 24 * 3600 * 1000

#: The connectors' retry tiers, in seconds: ``{p}.connector.{name}.retry.{t}s`` holds each
#: record ``t`` seconds, so its order is its wake-up order (see connectors/retry_tiers.py).
RETRY_TIERS_SECONDS: tuple[int, ...] = (5, 30, 120, 600, 3600)

#: Normalised topic families; one topic each. Downstream teams subscribe per family.
EVENT_FAMILIES: tuple[str, ...] = (
    "order",
    "customer",
    "payment",
    "product",
    "message",
    "passthrough",
)


@dataclass(frozen=True, slots=True)
class TopicSpec:
    name: str
    partitions: int
    retention_ms: int
    cleanup_policy: Literal["delete", "compact"] = "delete"
    description: str = ""

    def config(self) -> dict[str, str]:
        return {"retention.ms": str(self.retention_ms), "cleanup.policy": self.cleanup_policy}


@dataclass(frozen=True, slots=True)
class Topics:
    """Topic names for one prefix."""

    prefix: str = "hookline"

    @property
    def raw_webhooks(self) -> str:
        return f"{self.prefix}.raw.webhooks"

    @property
    def raw_dead_letter(self) -> str:
        return f"{self.prefix}.raw.webhooks.dlq"

    def events(self, family: str) -> str:
        if family not in EVENT_FAMILIES:
            raise ValueError(f"unknown event family {family!r}")
        return f"{self.prefix}.events.{family}"

    def connector_retry(self, connector: str) -> str:
        """The retry topic for records due now or within the first tier: to enqueue a
        record for retry "due now", write it here without ``hookline.retry.*`` headers
        (or with a due time already past)."""
        return f"{self.prefix}.connector.{connector}.retry"

    def connector_retry_tier(self, connector: str, seconds: int) -> str:
        if seconds not in RETRY_TIERS_SECONDS:
            raise ValueError(f"no retry tier of {seconds} s")
        return f"{self.connector_retry(connector)}.{seconds}s"

    def connector_retries(self, connector: str) -> list[str]:
        """Every retry topic of a connector: the base one, then the tiers, shortest first."""
        tiers = [self.connector_retry_tier(connector, t) for t in RETRY_TIERS_SECONDS]
        return [self.connector_retry(connector), *tiers]

    def connector_dead_letter(self, connector: str) -> str:
        return f"{self.prefix}.connector.{connector}.dlq"

    def core(self, partitions: int) -> list[TopicSpec]:
        """The topics every deployment has, whatever its connectors."""
        specs = [
            TopicSpec(self.raw_webhooks, partitions, 7 * DAY_MS, description="verified raw"),
            TopicSpec(self.raw_dead_letter, 1, 30 * DAY_MS, description="processor failures"),
        ]
        specs += [
            TopicSpec(self.events(f), partitions, 14 * DAY_MS, description=f"normalised {f}")
            for f in EVENT_FAMILIES
        ]
        return specs

    def for_connector(self, connector: str, partitions: int) -> list[TopicSpec]:
        retries = self.connector_retries(connector)
        return [
            *(TopicSpec(topic, partitions, 7 * DAY_MS) for topic in retries),
            TopicSpec(self.connector_dead_letter(connector), 1, 30 * DAY_MS),
        ]
