"""Records of the retry topic ``{prefix}.connector.{name}.retry``.

A change that failed with a retriable error is written here, untouched (key, value,
headers, timestamp), plus ``hookline.retry.*`` headers: the attempt it is due for, when
it is due (Unix ms), where it was first consumed (topic, partition, offset) and the last
failure. The same connector consumes the topic; a record that is not due yet makes the
runner seek back to it and pause that partition until it is due (no sleeping in the poll
loop, no partition of the normalised topics held up). The key, and so the partition,
stays the entity's: the retry topic has as many partitions as the normalised topics, and
the range assignor gives an instance the same partition numbers of every topic, so one
entity's changes are handled by one instance at a time.

Dead-lettering a retried record reports the original topic, partition and offset, and
keeps the original headers only.
"""

from __future__ import annotations

from hookline.dead_letter import SourceRecord

# The header format is the retry topic's contract, shared with ``hookline replay``.
from schemas.retry import RETRY_HEADER_PREFIX, RetryInfo, without_retry_headers

__all__ = [
    "RETRY_HEADER_PREFIX",
    "RetryInfo",
    "original_record",
    "retry_headers",
    "without_retry_headers",
]


def retry_headers(record: SourceRecord, info: RetryInfo) -> list[tuple[str, bytes]]:
    """The headers of the retry record: the original ones plus the new retry context."""
    return [*without_retry_headers(record.headers), *info.to_headers()]


def original_record(record: SourceRecord, info: RetryInfo | None) -> SourceRecord:
    """The record as first consumed: what a dead letter must carry."""
    if info is None:
        return record
    return SourceRecord(
        topic=info.topic,
        partition=info.partition,
        offset=info.offset,
        key=record.key,
        value=record.value,
        headers=without_retry_headers(record.headers),
        timestamp_ms=record.timestamp_ms,
    )
