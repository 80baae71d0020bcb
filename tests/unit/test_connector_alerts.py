"""Alerts: rate-limited per connector and kind; a failing sink never raises."""

from __future__ import annotations

from connectors.alerts import Alert, Alerter
from connectors.metrics import ConnectorMetrics
from hookline.metrics import new_registry
from tests.fakes.connector_harness import RecordingSink


class Clock:
    now = 0.0

    def __call__(self) -> float:
        return self.now


async def test_one_alert_per_kind_per_interval_and_the_held_ones_are_counted() -> None:
    sink, clock = RecordingSink(), Clock()
    alerter = Alerter(sink, ConnectorMetrics(new_registry()), 60, clock)
    dead = Alert("crm", "dead_letter", "a change was dead-lettered")
    assert await alerter.alert(dead)
    assert not await alerter.alert(dead)
    assert not await alerter.alert(dead)
    assert await alerter.alert(Alert("crm", "breaker_open", "open"))  # another kind
    assert await alerter.alert(Alert("erp", "dead_letter", "x"))  # another connector
    clock.now = 61
    assert await alerter.alert(dead)
    assert [(a.connector, a.kind, a.suppressed) for a in sink.alerts] == [
        ("crm", "dead_letter", 0),
        ("crm", "breaker_open", 0),
        ("erp", "dead_letter", 0),
        ("crm", "dead_letter", 2),
    ]


async def test_a_failing_sink_does_not_raise() -> None:
    class Broken:
        async def send(self, alert: Alert) -> None:
            raise ConnectionError("telegram down")

    alerter = Alerter(Broken(), ConnectorMetrics(new_registry()), 0)
    assert await alerter.alert(Alert("crm", "crashed", "x"))
