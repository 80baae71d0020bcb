"""The pure part of the processor: one raw record in, the records to produce out.

No Kafka here: :func:`transform` is what both the faust agent and the benchmark's plain
confluent-kafka loop run, so the two are compared on the same work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from hookline.topics import Topics
from hookline.tracing import TRACEPARENT, TRACESTATE
from processors.normalisers import REGISTRY
from processors.normalisers.base import RawEvent
from schemas.events import (
    CLOUDEVENTS_CONTENT_TYPE,
    EVENT_ID_HEADER,
    TRACE_CONTEXT_ATTRIBUTES,
    CloudEvent,
)
from schemas.text import json_without_nul, without_nul

Normalise = Callable[[RawEvent], list[CloudEvent]]


class InvalidRecord(Exception):
    """The raw record was not written by Hookline's ingress (e.g. its key is not UTF-8):
    dead-letter it, never retry."""


class OutputTooLarge(Exception):
    """A normalised event's record is larger than the producers may send
    (``kafka.max_message_bytes`` less batch framing): no retry can succeed, so the raw
    record is dead-lettered. The message names the topic, the size and the limit."""


def dedupe_key(key: bytes | None) -> str:
    """The record key as the dedupe key; "" (never deduped) when there is none.

    Raises :class:`InvalidRecord` for a key that is not UTF-8 (the ingress writes text).
    """
    try:
        return (key or b"").decode()
    except UnicodeDecodeError:
        raise InvalidRecord("record key is not UTF-8") from None


def provider_label(provider: str | None) -> str:
    """A bounded metric label: a known provider type, else "other" (a foreign record's
    header could hold anything)."""
    return provider if provider in REGISTRY else "other"


@dataclass(frozen=True, slots=True)
class Output:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def record_bytes(output: Output) -> int:
    """The bytes of ``output`` that count against a producer's ``message.max.bytes``: key,
    value and every header's name and value."""
    headers = sum(len(name) + len(value) for name, value in output.headers)
    return len(output.key) + len(output.value) + headers


def check_size(outputs: list[Output], limit: int) -> list[Output]:
    """``outputs``, or :class:`OutputTooLarge` for the first over ``limit`` bytes: checked
    before any is sent, so a raw record is never half forwarded."""
    for output in outputs:
        size = record_bytes(output)
        if size > limit:
            raise OutputTooLarge(
                f"normalised event for {output.topic} is too large: {size} bytes, over the "
                f"limit of {limit} (kafka.max_message_bytes less batch framing)"
            )
    return outputs


def transform(
    headers: Sequence[tuple[str, bytes | None]],
    value: bytes,
    topics: Topics,
    normalise: Normalise,
    traceparent: str | None = None,
    *,
    tracestate: str | None = None,
) -> list[Output]:
    """Normalise one raw record into records for the normalised topics; each carries
    ``traceparent`` (the processor's span) when given, and ``tracestate`` with it.

    Raises whatever the normaliser raises (``InvalidPayload`` for a bad body) and pydantic's
    ``ValidationError`` when the record lacks Hookline's raw headers; the caller dead-letters.
    """
    raw = RawEvent.from_kafka(headers, value)
    return [to_output(event, topics, traceparent, tracestate) for event in normalise(raw)]


def to_output(
    event: CloudEvent,
    topics: Topics,
    traceparent: str | None = None,
    tracestate: str | None = None,
) -> Output:
    """The record of ``event``; with ``traceparent`` (and ``tracestate``, only beside it),
    as the CloudEvents Distributed Tracing extension attributes and as the Kafka headers
    of the same names. Without them the attributes are left out (CloudEvents attributes
    are never null)."""
    headers: tuple[tuple[str, bytes], ...] = (
        ("content-type", CLOUDEVENTS_CONTENT_TYPE),
        (EVENT_ID_HEADER, event.id.encode()),
    )
    if traceparent is None:
        body = event.model_dump(mode="json", exclude=TRACE_CONTEXT_ATTRIBUTES)
    else:
        # Set on the dump, in the attribute's place: a copy of the model costs twice as much.
        body = event.model_dump(mode="json")
        body["traceparent"] = traceparent
        headers = (*headers, (TRACEPARENT, traceparent.encode()))
        if tracestate is None:
            del body["tracestate"]
        else:
            body["tracestate"] = tracestate
            headers = (*headers, (TRACESTATE, tracestate.encode()))
    value = json_without_nul(orjson.dumps(body))  # schemas.text: never U+0000
    key = without_nul(event.subject).encode()  # as the subject in the value reads
    return Output(topics.events(event.family), key, value, headers)
