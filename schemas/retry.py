"""The connectors' retry topics (``{prefix}.connector.{name}.retry``): the retry context.

A record on a retry topic is the original change, untouched (key, value, headers), plus
``hookline.retry.*`` headers modelled by :class:`RetryInfo`: the attempt it is due for,
when it is due (Unix ms), where it was first consumed and the last failure. Connectors
write these records when a delivery fails with a retriable error; ``hookline replay``
writes one (attempt 1, due now) to send a connector's dead letter back to that connector
only; the admin API writes one (no retry context: due now) to deliver a conflict a
person resolved (:data:`CONFLICT_RESOLUTION_HEADER`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

RETRY_HEADER_PREFIX = "hookline.retry."
#: On a record of a connector's retry topic: the id of the ``conflicts`` row a person
#: resolved (the admin API writes it). The connector applies such a record even though its
#: conflict policy would hold or reject it; only a state already applied is skipped.
CONFLICT_RESOLUTION_HEADER = "hookline-conflict-resolution"
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
