"""Writing dead letters: one function for every stage, so they all look the same.

The original record's key, value, headers and timestamp are kept; the context headers of
:class:`schemas.dead_letter.DeadLetterContext` are appended. Callers commit the source
offset only after the returned future resolved (the dead letter is durable).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from hookline.kafka_clients import AsyncProducer, Delivered
from schemas.dead_letter import DeadLetterContext

# Credentials that may sit in an exception's text (URLs with userinfo, bearer tokens,
# key=value secrets, Telegram bot tokens) are masked before the text leaves the process.
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    # key=value, key: value and JSON's "key": "value" (an OAuth token response)
    re.compile(r'(?i)((?:secret|password|token|api[_-]?key|signature)"?\s*[=:]\s*"?)[^\s&,;"]+'),
    re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+(?=@)"),
    re.compile(r"(?i)(/bot)\d+:[A-Za-z0-9_-]+"),
)


#: What every pattern above needs somewhere in the text (lower case).
_SECRET_WORDS = (
    "bearer", "secret", "password", "token", "apikey", "api_key", "api-key", "signature", "@",
    "/bot",
)  # fmt: skip


def might_hold_secret(text: str) -> bool:
    """False when :func:`scrub` would leave ``text`` as it is, for sure: checked for the
    many texts (every string of every log line, response bodies) that hold no credential.

    A substring test per word on the lower-cased text: 2-2.5x cheaper than one search for
    an alternation of the words (Python's regular expressions try each alternative at
    every position; ``in`` is a C scan), 1.8 against 4.2 us on a 260-character audit line.
    """
    lowered = text.lower()
    for word in _SECRET_WORDS:  # noqa: SIM110 - any() over a generator: 1.4x the cost
        if word in lowered:
            return True
    return False


def scrub(text: str) -> str:
    return masked(text) if might_hold_secret(text) else text


def masked(text: str) -> str:
    """``text`` with every pattern's credential masked (:func:`scrub` without the test
    that lets most texts skip it)."""
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(r"\1[redacted]", text)
    return text


@dataclass(frozen=True, slots=True)
class SourceRecord:
    """A consumed record, whichever client consumed it."""

    topic: str
    partition: int
    offset: int
    key: bytes | None
    value: bytes
    headers: Sequence[tuple[str, bytes]]
    timestamp_ms: int | None

    @classmethod
    def from_message(cls, msg: Message) -> SourceRecord:
        timestamp_type, timestamp = msg.timestamp()
        return cls(
            topic=msg.topic() or "",
            partition=msg.partition() or 0,
            offset=msg.offset() or 0,
            key=msg.key(),
            value=msg.value() or b"",
            headers=header_list(msg.headers()),
            timestamp_ms=None if timestamp_type == TIMESTAMP_NOT_AVAILABLE else timestamp,
        )


def header_list(raw: object) -> list[tuple[str, bytes]]:
    """Record headers as a list of (name, bytes), whichever client gave them (a list or a
    dict, values str, bytes or None)."""
    items = raw.items() if isinstance(raw, dict) else (raw or [])
    return [(k, v.encode() if isinstance(v, str) else (v or b"")) for k, v in items]  # type: ignore[attr-defined]


def build_context(
    record: SourceRecord,
    *,
    stage: str,
    component: str,
    error: BaseException,
    attempts: int = 1,
    http_status: int | None = None,
    http_body: str | None = None,
) -> DeadLetterContext:
    return DeadLetterContext(
        topic=record.topic,
        partition=record.partition,
        offset=record.offset,
        stage=stage,
        component=component,
        exception_class=type(error).__name__,
        exception_message=scrub(str(error)),
        attempts=attempts,
        failed_at=datetime.now(UTC),
        http_status=http_status,
        http_body=scrub(http_body) if http_body is not None else None,
    )


def dead_letter_headers(
    record: SourceRecord, context: DeadLetterContext
) -> list[tuple[str, bytes]]:
    return [*record.headers, *context.to_headers()]


def send_dead_letter(
    producer: AsyncProducer, topic: str, record: SourceRecord, context: DeadLetterContext
) -> asyncio.Future[Delivered]:
    return producer.send(
        topic,
        value=record.value,
        key=record.key,
        headers=dead_letter_headers(record, context),
        timestamp=record.timestamp_ms,
    )
