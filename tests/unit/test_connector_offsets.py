"""What a batch may commit, and how a batch is judged."""

from __future__ import annotations

from collections import Counter

from confluent_kafka import TopicPartition

from connectors.consumer import OffsetTracker
from connectors.metrics import Outcome
from connectors.runner import batch_outcome

A, B = ("t", 0), ("t", 1)


def positions(parts: list[TopicPartition]) -> dict[tuple[str, int], int]:
    return {(p.topic, p.partition): p.offset for p in parts}


def test_only_the_durable_prefix_of_each_partition_is_committed() -> None:
    tracker = OffsetTracker([(A, 10), (A, 11), (A, 12), (B, 5)])
    assert tracker.committable() == []
    tracker.done(A, 11)
    assert tracker.committable() == []  # 10 is not durable yet
    tracker.done(A, 10)
    tracker.done(B, 5)
    assert positions(tracker.committable()) == {A: 12, B: 6}
    tracker.done(A, 12)
    assert positions(tracker.committable()) == {A: 13}  # B unchanged: not again


def test_committable_can_be_limited_to_revoked_partitions() -> None:
    tracker = OffsetTracker([(A, 1), (B, 1)])
    tracker.done(A, 1)
    tracker.done(B, 1)
    assert positions(tracker.committable([B])) == {B: 2}


def test_a_batch_is_ok_partial_or_failed() -> None:
    assert batch_outcome(Counter({Outcome.APPLIED: 3, Outcome.SKIPPED_STALE: 1}), None) == "ok"
    assert batch_outcome(Counter({Outcome.APPLIED: 3, Outcome.RETRIED: 1}), None) == "partial"
    assert batch_outcome(Counter({Outcome.DEAD_LETTERED: 2}), None) == "failed"
    assert batch_outcome(Counter({Outcome.APPLIED: 2}), RuntimeError("db down")) == "failed"
