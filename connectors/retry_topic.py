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

from collections.abc import Sequence
from dataclasses import dataclass

from hookline.dead_letter import SourceRecord

RETRY_HEADER_PREFIX = "hookline.retry."
Headers = Sequence[tuple[str, bytes]]


@dataclass(frozen=True, slots=True)
class RetryInfo:
    attempt: int  # the attempt this record is due for (2 for the first retry)
    due_ms: int
    topic: str
    partition: int
    offset: int
    last_status: int | None = None
    last_error: str = ""

    def to_headers(self) -> list[tuple[str, bytes]]:
        fields = {
            "attempt": str(self.attempt),
            "due.ms": str(self.due_ms),
            "topic": self.topic,
            "partition": str(self.partition),
            "offset": str(self.offset),
            "last.status": "" if self.last_status is None else str(self.last_status),
            "last.error": self.last_error,
        }
        return [(RETRY_HEADER_PREFIX + name, value.encode()) for name, value in fields.items()]

    @classmethod
    def from_headers(cls, headers: Headers) -> RetryInfo | None:
        """The retry context of a record, or None when it carries none (or a broken one)."""
        fields = {
            name.removeprefix(RETRY_HEADER_PREFIX): value.decode(errors="replace")
            for name, value in headers
            if name.startswith(RETRY_HEADER_PREFIX)
        }
        try:
            return cls(
                attempt=int(fields["attempt"]),
                due_ms=int(fields["due.ms"]),
                topic=fields["topic"],
                partition=int(fields["partition"]),
                offset=int(fields["offset"]),
                last_status=int(fields["last.status"]) if fields.get("last.status") else None,
                last_error=fields.get("last.error", ""),
            )
        except (KeyError, ValueError):
            return None


def without_retry_headers(headers: Headers) -> list[tuple[str, bytes]]:
    return [(n, v) for n, v in headers if not n.startswith(RETRY_HEADER_PREFIX)]


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
