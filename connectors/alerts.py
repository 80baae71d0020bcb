"""Alerts: a pluggable sink behind a rate limit.

The runner raises an alert when a dead letter is written, when a connector's batches
fail three times in a row, when its breaker opens and when it crashes. :class:`Alerter`
sends at most one alert per (connector, kind) every ``min_interval_seconds``; the ones in
between are counted and the count rides on the next alert that goes out. A sink that
fails is logged, never raised: alerting must not stop delivery.

A sink is anything with ``async send(alert)``: :class:`LoggingAlertSink` by default; the
Telegram sink comes with the destinations.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from connectors.metrics import ConnectorMetrics
from hookline.logs import get_logger

log = get_logger("hookline.connectors.alerts")

ALERT_KINDS = ("dead_letter", "batches_failing", "breaker_open", "crashed")


@dataclass(frozen=True, slots=True)
class Alert:
    connector: str
    kind: str  # one of ALERT_KINDS
    summary: str
    details: Mapping[str, str | int | float | None] = field(default_factory=dict)
    suppressed: int = 0  # alerts of this kind held back since the last one sent


class AlertSink(Protocol):
    async def send(self, alert: Alert) -> None: ...


class LoggingAlertSink:
    """Alerts as ``error`` log lines (event ``alert``)."""

    async def send(self, alert: Alert) -> None:
        log.error(
            "alert",
            connector=alert.connector,
            kind=alert.kind,
            summary=alert.summary,
            suppressed=alert.suppressed,
            **dict(alert.details),
        )


class Alerter:
    def __init__(
        self,
        sink: AlertSink,
        metrics: ConnectorMetrics,
        min_interval_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._sink = sink
        self._metrics = metrics
        self._interval = min_interval_seconds
        self._clock = clock
        self._last_sent: dict[tuple[str, str], float] = {}
        self._held: dict[tuple[str, str], int] = {}

    async def alert(self, alert: Alert) -> bool:
        """Send unless one of its kind went out recently; True when sent."""
        slot = (alert.connector, alert.kind)
        now = self._clock()
        last = self._last_sent.get(slot)
        if last is not None and now - last < self._interval:
            self._held[slot] = self._held.get(slot, 0) + 1
            self._metrics.alerts.labels(alert.connector, alert.kind, "false").inc()
            return False
        self._last_sent[slot] = now
        held = self._held.pop(slot, 0)
        self._metrics.alerts.labels(alert.connector, alert.kind, "true").inc()
        try:
            await self._sink.send(
                Alert(alert.connector, alert.kind, alert.summary, alert.details, held)
            )
        except Exception:
            log.exception("alert sink failed", connector=alert.connector, kind=alert.kind)
        return True
