"""When a failed connector starts again, and when an outage is worth an alert.

Two kinds of failure end a connector's run (:func:`hookline.outages.unavailable_dependency`
tells them apart):

- **an outage**: PostgreSQL or Kafka cannot be reached for now. The connector waits 1, 2,
  5, then every 10 s, so it is back within 10 s of its dependency; nothing is lost (what
  was not committed is delivered again). Its supervisor alerts once when the outage has
  lasted ``connectors.outage_alert_after_seconds``, and once more when it runs again.
- **a crash**: anything else. It waits 1, 2, 5, 10, 30, then 60 s between attempts, so a
  defect that fails every run does not spin.

A run that lasted as long as the longest pause counts as healthy: the next failure starts
the pauses from the beginning again.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

CRASH_DELAYS = (1.0, 2.0, 5.0, 10.0, 30.0, 60.0)
OUTAGE_DELAYS = (1.0, 2.0, 5.0, 10.0)
HEALTHY_RUN_SECONDS = max(CRASH_DELAYS)


@dataclass(frozen=True, slots=True)
class Outage:
    dependency: str
    since: float  # clock() when the first run failed for it


class RestartSchedule:
    """The pauses between one connector's runs and the state of its current outage."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._failures = 0
        self._outage: Outage | None = None
        self._alerted = False
        self._started = clock()

    def started(self) -> Outage | None:
        """The run began; the outage it ends (None when there was none)."""
        self._started = self._clock()
        ended, self._outage = self._outage, None
        return ended

    def failed(self, dependency: str | None) -> float:
        """The run failed (``dependency``: the one it could not reach, None for a crash);
        the seconds to wait before the next one."""
        now = self._clock()
        if now - self._started >= HEALTHY_RUN_SECONDS:
            self._failures = 0
        self._failures += 1
        if dependency is None:
            return _nth(CRASH_DELAYS, self._failures)
        if self._outage is None or self._outage.dependency != dependency:
            self._outage = Outage(dependency, self._outage.since if self._outage else now)
        return _nth(OUTAGE_DELAYS, self._failures)

    def outage_seconds(self) -> float:
        """How long the current outage has lasted (0 when there is none)."""
        return 0.0 if self._outage is None else self._clock() - self._outage.since

    def take_outage_alert(self) -> bool:
        """True once per outage (the caller decides when it has lasted long enough)."""
        if self._outage is None or self._alerted:
            return False
        self._alerted = True
        return True

    @property
    def outage_alerted(self) -> bool:
        return self._alerted

    def take_recovery_alert(self) -> bool:
        """True when the outage that just ended had been alerted."""
        alerted, self._alerted = self._alerted, False
        return alerted


def _nth(delays: tuple[float, ...], failures: int) -> float:
    return delays[min(failures, len(delays)) - 1]
