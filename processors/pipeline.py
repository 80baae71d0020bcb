"""The pure part of the processor: one raw record in, the records to produce out.

No Kafka here: :func:`transform` is what both the faust agent and the benchmark's plain
confluent-kafka loop run, so the two are compared on the same work.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import orjson

from hookline.topics import Topics
from processors.normalisers.base import RawEvent
from schemas.events import CloudEvent

Normalise = Callable[[RawEvent], list[CloudEvent]]

CLOUDEVENTS_CONTENT_TYPE = b"application/cloudevents+json; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Output:
    topic: str
    key: bytes
    value: bytes
    headers: tuple[tuple[str, bytes], ...]


def transform(
    headers: Sequence[tuple[str, bytes | None]], value: bytes, topics: Topics, normalise: Normalise
) -> list[Output]:
    """Normalise one raw record into records for the normalised topics.

    Raises whatever the normaliser raises (``InvalidPayload`` for a bad body) and pydantic's
    ``ValidationError`` when the record lacks Hookline's raw headers; the caller dead-letters.
    """
    raw = RawEvent.from_kafka(headers, value)
    return [to_output(event, topics) for event in normalise(raw)]


def to_output(event: CloudEvent, topics: Topics) -> Output:
    return Output(
        topic=topics.events(event.family),
        key=event.subject.encode(),
        value=orjson.dumps(event.model_dump(mode="json")),
        headers=(("content-type", CLOUDEVENTS_CONTENT_TYPE), ("ce_id", event.id.encode())),
    )
