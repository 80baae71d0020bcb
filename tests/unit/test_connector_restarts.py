"""The pauses between a failed connector's runs, and its outage's alerts."""

from __future__ import annotations

from connectors.restarts import CRASH_DELAYS, HEALTHY_RUN_SECONDS, OUTAGE_DELAYS, RestartSchedule


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def test_crashes_back_off_to_a_minute_and_outages_to_ten_seconds() -> None:
    crashes = RestartSchedule(Clock())
    assert [crashes.failed(None) for _ in range(8)] == [*CRASH_DELAYS, 60.0, 60.0]
    outages = RestartSchedule(Clock())
    assert [outages.failed("postgresql") for _ in range(6)] == [1.0, 2.0, 5.0, 10.0, 10.0, 10.0]
    assert max(OUTAGE_DELAYS) == 10.0


def test_a_healthy_run_starts_the_pauses_afresh() -> None:
    clock = Clock()
    schedule = RestartSchedule(clock)
    for _ in range(5):
        schedule.failed(None)
    schedule.started()
    clock.now += HEALTHY_RUN_SECONDS  # ran a minute without failing
    assert schedule.failed(None) == 1.0
    schedule.started()
    clock.now += 5  # failed again at once: the pauses grow again
    assert schedule.failed(None) == 2.0


def test_an_outage_lasts_from_its_first_failure_until_a_run_starts() -> None:
    clock = Clock()
    schedule = RestartSchedule(clock)
    assert schedule.outage_seconds() == 0
    schedule.failed("kafka")
    clock.now += 30
    schedule.failed("kafka")
    clock.now += 12
    assert schedule.outage_seconds() == 42
    outage = schedule.started()
    assert outage is not None
    assert (outage.dependency, outage.since) == ("kafka", 1000.0)
    assert schedule.started() is None
    assert schedule.outage_seconds() == 0


def test_an_outage_is_alerted_once_and_its_recovery_only_if_it_was() -> None:
    schedule = RestartSchedule(Clock())
    schedule.failed("postgresql")
    assert not schedule.take_recovery_alert()
    assert schedule.take_outage_alert()
    assert not schedule.take_outage_alert()
    schedule.failed("postgresql")
    assert not schedule.take_outage_alert()  # the same outage
    schedule.started()
    assert schedule.take_recovery_alert()
    assert not schedule.take_recovery_alert()
    schedule.failed("postgresql")  # a new outage
    schedule.started()
    assert not schedule.take_recovery_alert()  # never alerted: nothing to recover from


def test_no_outage_no_outage_alert() -> None:
    schedule = RestartSchedule(Clock())
    schedule.failed(None)
    assert not schedule.take_outage_alert()
