"""Dedupe by raw key within a horizon."""

from __future__ import annotations

from processors.dedupe import Deduper

DAY = 86_400.0


def test_a_key_is_a_duplicate_only_within_the_horizon() -> None:
    table: dict[str, float] = {}
    dedupe = Deduper(table, horizon_seconds=8 * DAY)
    assert not dedupe.is_duplicate("stripe:evt_1", now=0)
    dedupe.remember("stripe:evt_1", now=0)
    assert dedupe.is_duplicate("stripe:evt_1", now=3 * DAY)  # Stripe retries for 3 days
    assert not dedupe.is_duplicate("stripe:evt_1", now=8 * DAY)
    assert not dedupe.is_duplicate("stripe:evt_2", now=1)


def test_checking_does_not_remember() -> None:
    table: dict[str, float] = {}
    dedupe = Deduper(table, horizon_seconds=DAY)
    dedupe.is_duplicate("k", now=0)
    assert table == {}
