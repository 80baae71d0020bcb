"""Retry tiers: a retry due later never holds up one due sooner.

A connector has one base retry topic and one topic per tier
(:data:`hookline.topics.RETRY_TIERS_SECONDS`: 5 s, 30 s, 2 min, 10 min, 1 h). A retry record
carries, besides its due time, a *wake-up* time (header ``hookline.retry.wake.ms``): when the
runner looks at it next. The runner consumes every retry topic and holds a partition whose
head has not woken up (seek back, pause until then).

- A record due within the first tier goes to the base topic and wakes when it is due. One
  waits there at most that first tier (5 s) behind another.
- Any other goes to the longest tier not longer than its remaining time, and wakes exactly
  that tier's time after it was written. Every record of a tier waits the same time, so a
  partition's records wake in the order they were written: its head is always the first
  due, whatever the others' ``Retry-After``.
- On waking, a record that is due is delivered (an attempt). One that is not moves to the
  tier of its remaining time (*rescheduled*: written and acknowledged before its offset
  counts as done; no attempt spent). A record due in 900 s: 600 s tier, then 120 s twice,
  30 s twice, then it is due.

A record without a wake-up time (written by ``hookline replay``, or by an older version)
wakes at once: it is delivered if due, rescheduled otherwise. Nothing is held in memory:
a held record is uncommitted, so a restart finds it where it was.
"""

from __future__ import annotations

from collections.abc import Sequence

from connectors.retry_topic import RETRY_HEADER_PREFIX
from hookline.topics import RETRY_TIERS_SECONDS, Topics

WAKE_HEADER = RETRY_HEADER_PREFIX + "wake.ms"


def placement(topics: Topics, connector: str, due_ms: int, now_ms: int) -> tuple[str, int]:
    """The retry topic for a record due at ``due_ms``, and when it wakes up (Unix ms)."""
    remaining = (due_ms - now_ms) / 1000
    tiers = [t for t in RETRY_TIERS_SECONDS if t <= remaining]
    if not tiers:
        return topics.connector_retry(connector), due_ms
    return topics.connector_retry_tier(connector, tiers[-1]), now_ms + tiers[-1] * 1000


def wake_header(wake_ms: int) -> tuple[str, bytes]:
    return WAKE_HEADER, str(wake_ms).encode()


def wake_ms(headers: Sequence[tuple[str, bytes]]) -> int | None:
    """When the record wakes up (Unix ms); None: at once."""
    for name, value in headers:
        if name == WAKE_HEADER:
            try:
                return int(value)
            except ValueError:
                return None
    return None
