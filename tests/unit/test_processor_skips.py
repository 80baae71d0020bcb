"""Finding the raw records faust skipped (processors.skipped): offsets more than one past
the previous delivered offset of the same partition, in the same consumer generation."""

from __future__ import annotations

from hookline.dead_letter import SourceRecord
from processors.skipped import Delivered, SkipDetector, Skipped


def delivered(partition: int, offset: int, generation: int = 2) -> Delivered:
    record = SourceRecord("raw", partition, offset, b"k", b"v", [], None)
    return Delivered(record, generation)


def test_contiguous_offsets_skip_nothing() -> None:
    detector = SkipDetector()
    assert detector.skipped([delivered(0, n) for n in range(61, 89)]) == []
    assert detector.skipped([delivered(0, n) for n in range(89, 95)]) == []


def test_a_jump_names_the_offsets_never_delivered_and_where_they_belong() -> None:
    """As measured after a restart: 61 to 88, then 100 (89 to 99 never delivered)."""
    detector = SkipDetector()
    detector.skipped([delivered(2, n) for n in range(61, 80)])
    batch = [delivered(2, n) for n in range(80, 89)] + [delivered(1, 7), delivered(2, 100)]
    assert detector.skipped(batch) == [(10, Skipped("raw", 2, 89, 100))]


def test_partitions_are_followed_apart() -> None:
    detector = SkipDetector()
    batch = [delivered(0, 5), delivered(1, 40), delivered(0, 6), delivered(1, 43)]
    assert detector.skipped(batch) == [(3, Skipped("raw", 1, 41, 43))]


def test_a_redelivery_or_a_new_generation_is_no_skip() -> None:
    """faust seeks back to the committed offset (the same offsets again), and a new
    generation starts wherever the group's committed offset is."""
    detector = SkipDetector()
    detector.skipped([delivered(0, n) for n in range(320, 328)])
    assert detector.skipped([delivered(0, 327), delivered(0, 328)]) == []
    assert detector.skipped([delivered(0, 20, generation=3), delivered(0, 21, 3)]) == []
    assert detector.skipped([delivered(0, 500, generation=4)]) == []
