"""Finding the raw records faust skipped (processors.skipped): offsets more than one past
the previous delivered offset of the same partition, until the partition is revoked."""

from __future__ import annotations

from hookline.dead_letter import SourceRecord
from processors.skipped import SkipDetector, Skipped


def delivered(partition: int, offset: int) -> SourceRecord:
    return SourceRecord("raw", partition, offset, b"k", b"v", [], None)


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


def test_a_redelivery_is_no_skip() -> None:
    """faust seeks back to the committed offset: the same offsets again, then onwards."""
    detector = SkipDetector()
    detector.skipped([delivered(0, n) for n in range(320, 328)])
    assert detector.skipped([delivered(0, 327), delivered(0, 328)]) == []
    assert detector.skipped([delivered(0, 300), delivered(0, 301)]) == []


def test_a_revoked_partition_starts_afresh() -> None:
    """Another worker may take it further; back here, it resumes at the committed offset."""
    detector = SkipDetector()
    detector.skipped([delivered(0, 5), delivered(1, 5)])
    detector.forget([("raw", 0)])
    assert detector.skipped([delivered(0, 900), delivered(1, 900)]) == [
        (1, Skipped("raw", 1, 6, 900))
    ]
