"""Sending again what the cluster could not take for now.

A produce that fails because the cluster is unavailable (broker down or restarting, no
leader, not enough in-sync replicas, the producer's ``delivery_timeout_ms`` spent on
those) says nothing about the record: the same record goes through once the cluster is
back. Dead-lettering it would turn every broker restart into records an operator must
replay by hand, out of order with the ones after them. So the worker sends it again,
with backoff, for as long as it takes; its batch is not acked meanwhile, so no commit
covers it and a crash redelivers it. Only a record the cluster refuses for good (too
large, invalid: :attr:`hookline.kafka_clients.PublishError.refused`) is dead-lettered.

Every failed attempt is counted (``hookline_processor_publish_retries_total``) and logged;
the consumer lag alert covers a cluster that stays away.
"""

from __future__ import annotations

import asyncio

from hookline.dead_letter import scrub
from hookline.kafka_clients import PublishError
from hookline.logs import get_logger
from processors.metrics import ProcessorMetrics

log = get_logger("hookline.processors")

FIRST_BACKOFF_SECONDS = 0.5
MAX_BACKOFF_SECONDS = 10.0


def resendable(error: BaseException) -> bool:
    """Whether a failed send may succeed when sent again unchanged."""
    return isinstance(error, PublishError) and not error.refused


class Resender:
    def __init__(self, metrics: ProcessorMetrics) -> None:
        self._metrics = metrics

    async def pause(self, attempt: int, error: BaseException, what: str) -> None:
        """Count and log failed attempt number ``attempt`` to write ``what`` (``output`` or
        ``changelog``), then wait before the next one."""
        self._metrics.publish_retries.labels(what).inc()
        log.warning(
            "Kafka did not take the records for now; sending them again",
            what=what,
            attempt=attempt,
            reason=scrub(str(error))[:300],
        )
        await asyncio.sleep(backoff_seconds(attempt))


def backoff_seconds(
    attempt: int, first: float = FIRST_BACKOFF_SECONDS, cap: float = MAX_BACKOFF_SECONDS
) -> float:
    """The wait after failed attempt number ``attempt`` (from 1) at something Kafka could
    not serve for now: doubling from ``first``, capped at ``cap``."""
    return float(min(cap, first * 2 ** (attempt - 1)))
