"""The alert interface every service shares: an :class:`Alert`, a sink that sends it, and
the default sink that logs it.

A service raises alerts through any :class:`AlertSink` its composition root gives it
(connectors: :mod:`connectors.alerts`, which adds rate limiting and the Telegram sink;
pollers: the sync log). A sink must not raise for a failed send: alerting must never stop
the work it reports on.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from hookline.logs import get_logger

log = get_logger("hookline.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    connector: str  # the component alerting: a connector, a poller, a reconciliation
    kind: str  # what happened, e.g. "batches_failing", "runs_failing"
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
