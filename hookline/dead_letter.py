"""Writing dead letters: one function for every stage, so they all look the same.

The original record's key, value, headers and timestamp are kept; the context headers of
:class:`schemas.dead_letter.DeadLetterContext` are appended. Callers commit the source
offset only after the returned future resolved (the dead letter is durable).
"""

from __future__ import annotations

import asyncio
import re
from datetime import UTC, datetime

from confluent_kafka import TIMESTAMP_NOT_AVAILABLE, Message

from hookline.kafka_clients import AsyncProducer, Delivered
from schemas.dead_letter import DeadLetterContext

# Credentials that may sit in an exception's text (URLs with userinfo, bearer tokens,
# key=value secrets) are masked before the message leaves the process.
_SECRET_PATTERNS = (
    re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]+"),
    re.compile(r"(?i)((?:secret|password|token|api[_-]?key|signature)\s*[=:]\s*)[^\s&,;]+"),
    re.compile(r"(?i)(://[^/\s:@]+:)[^@\s/]+(@)"),
    re.compile(r"(?i)(/bot)\d+:[A-Za-z0-9_-]+"),
)


def scrub(text: str) -> str:
    for pattern in _SECRET_PATTERNS:
        text = pattern.sub(
            lambda m: m.group(1) + "[redacted]" + (m.group(2) if m.lastindex == 2 else ""), text
        )
    return text


def build_context(
    msg: Message,
    *,
    stage: str,
    component: str,
    error: BaseException,
    attempts: int = 1,
    http_status: int | None = None,
    http_body: str | None = None,
) -> DeadLetterContext:
    return DeadLetterContext(
        topic=msg.topic() or "",
        partition=msg.partition() or 0,
        offset=msg.offset() or 0,
        stage=stage,
        component=component,
        exception_class=type(error).__name__,
        exception_message=scrub(str(error)),
        attempts=attempts,
        failed_at=datetime.now(UTC),
        http_status=http_status,
        http_body=scrub(http_body) if http_body is not None else None,
    )


def send_dead_letter(
    producer: AsyncProducer, topic: str, msg: Message, context: DeadLetterContext
) -> asyncio.Future[Delivered]:
    timestamp_type, timestamp = msg.timestamp()
    return producer.send(
        topic,
        value=msg.value() or b"",
        key=msg.key(),
        headers=[*(msg.headers() or []), *context.to_headers()],
        timestamp=None if timestamp_type == TIMESTAMP_NOT_AVAILABLE else timestamp,
    )
