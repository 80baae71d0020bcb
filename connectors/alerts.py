"""Alerts of the connectors: a pluggable sink behind a rate limit.

The runner raises an alert when a dead letter is written, when a connector's batches
fail three times in a row, when its breaker opens and when it crashes; its supervisor
when PostgreSQL or Kafka has been unreachable for a while, and when they are back
(:mod:`connectors.restarts`). :class:`Alerter`
sends at most one alert per (connector, kind) every ``min_interval_seconds``; the ones in
between are counted and the count rides on the next alert that goes out. A sink that
fails is logged, never raised: alerting must not stop delivery.

A sink is anything with ``async send(alert)``: :class:`LoggingAlertSink` by default, or
:class:`TelegramAlertSink` when the connectors file has an ``[alerts]`` table with
``type = "telegram"``. The sinks, their config model and what the Telegram sink
guarantees live in :mod:`hookline.alerts` (the pollers use them too) and stay importable
from here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping
from pathlib import Path

from pydantic import SecretStr

from connectors.errors import ConfigError
from connectors.metrics import ConnectorMetrics
from hookline.alerts import (
    MAX_VISIBLE_CHARS,
    Alert,
    AlertSink,
    LoggingAlertSink,
    TelegramAlertConfig,
    TelegramAlertSink,
    alert_text,
    escape_html,
    escape_markdown_v2,
    scrub,
)
from hookline.alerts import load_alerts as shared_load_alerts
from hookline.logs import get_logger

log = get_logger("hookline.connectors.alerts")

ALERT_KINDS = (
    *("dead_letter", "batches_failing", "breaker_open", "crashed"),
    *("dependency_unavailable", "dependency_recovered"),
)
# The sinks live in hookline.alerts (shared by every service) and stay importable from here.
__all__ = [
    "ALERT_KINDS",
    "MAX_VISIBLE_CHARS",
    "Alert",
    "AlertSink",
    "Alerter",
    "LoggingAlertSink",
    "TelegramAlertConfig",
    "TelegramAlertSink",
    "alert_text",
    "escape_html",
    "escape_markdown_v2",
    "load_alerts",
    "scrub",
]


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


def load_alerts(path: Path, secrets: Mapping[str, SecretStr]) -> TelegramAlertConfig | None:
    """The ``[alerts]`` table of the connectors file at ``path``; None when it has none;
    :class:`ConfigError` when it is malformed."""
    return shared_load_alerts(path, secrets, ConfigError)
