"""Waits between attempts at what Kafka cannot serve for now (processors.resend)."""

from __future__ import annotations

from processors import dead_letters
from processors.resend import backoff_seconds


def test_retries_wait_doubling_from_half_a_second_up_to_ten() -> None:
    """A long outage is retried every ten seconds, not ever more rarely (writes sent again,
    and skipped ranges read again: processors.skipped)."""
    waits = [backoff_seconds(attempt) for attempt in range(1, 8)]
    assert waits == [0.5, 1.0, 2.0, 4.0, 8.0, 10.0, 10.0]


def test_dead_letter_writes_wait_doubling_from_one_second_up_to_thirty() -> None:
    """The curve the dead-letter writer uses (its stall logs one line per attempt)."""
    first, cap = dead_letters.FIRST_BACKOFF_SECONDS, dead_letters.MAX_BACKOFF_SECONDS
    waits = [backoff_seconds(attempt, first, cap) for attempt in range(1, 8)]
    assert waits == [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]
