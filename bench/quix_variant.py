"""The processors' job on Quix Streams: bench_processors runs this in its own venv.

``python bench/quix_variant.py <topic prefix> <state dir> <counts file>``, with the repo
root on ``PYTHONPATH`` and quixstreams installed (``.run/bench-quix-venv``: its pins are
not faust's, so it never shares the project's venv). The same work as the faust worker:

- dedupe with the project's :class:`~processors.dedupe.Deduper` over Quix's RocksDB state
  (changelog topic included): the first sight of ``{source}:{event id}`` passes, a repeat
  within the horizon is dropped;
- :func:`processors.pipeline.transform` with the same normaliser registry, each output to
  its family topic with its key and headers, through the project's producer settings
  (idempotent, ``acks=all``, lz4);
- at-least-once, a checkpoint every second or every 100 records (faust's
  ``broker_commit_interval`` / ``broker_commit_every``): Quix flushes the outputs and the
  state's changelog before it commits the offsets.

Runs until SIGTERM; then writes ``{"forwarded": n, "duplicate": n}`` to the counts file.
The consumer group is ``<prefix>-quix``. A bench tool: not part of the package.
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator, MutableMapping
from pathlib import Path
from typing import Any

from quixstreams import Application, State
from quixstreams.models import Topic
from quixstreams.models.serializers import SerializationContext, Serializer

from hookline.kafka_clients import consumer_config, producer_config
from hookline.settings import KafkaSettings, ProcessorSettings
from hookline.topics import EVENT_FAMILIES, Topics
from processors.dedupe import Deduper
from processors.normalisers import normalise
from processors.pipeline import Output, dedupe_key, transform

COMMIT_INTERVAL = 1.0
COMMIT_EVERY = 100
#: Set by Quix itself from its own arguments (the bootstrap servers too), or not accepted in
#: its extra config.
QUIX_OWNED = ("group.id", "enable.auto.commit", "auto.offset.reset")


class StateTable(MutableMapping[str, float]):
    """Quix's per-key state seen as the mapping :class:`Deduper` reads and writes."""

    def __init__(self) -> None:
        self.state: State | None = None

    def __getitem__(self, key: str) -> float:
        assert self.state is not None
        value = self.state.get(key)
        if value is None:
            raise KeyError(key)
        return float(value)

    def __setitem__(self, key: str, value: float) -> None:
        assert self.state is not None
        self.state.set(key, value)

    def __delitem__(self, key: str) -> None:
        assert self.state is not None
        self.state.delete(key)

    def __iter__(self) -> Iterator[str]:
        raise NotImplementedError("Quix state is read by key")

    def __len__(self) -> int:
        raise NotImplementedError("Quix state is read by key")


class OutputValue(Serializer):
    """An :class:`Output`'s value, already bytes."""

    def __call__(self, value: Output, ctx: SerializationContext) -> bytes:
        return value.value


def extra(config: dict[str, Any]) -> dict[str, Any]:
    return {
        k: v
        for k, v in config.items()
        if k not in QUIX_OWNED and not k.startswith("bootstrap.") and k != "logger"
    }


def main(prefix: str, state_dir: str, counts_file: str) -> None:
    kafka = KafkaSettings()
    topics = Topics(prefix)
    app = Application(
        broker_address=kafka.bootstrap_servers,
        consumer_group=f"{prefix}-quix",
        auto_offset_reset="earliest",
        commit_interval=COMMIT_INTERVAL,
        commit_every=COMMIT_EVERY,
        processing_guarantee="at-least-once",
        state_dir=state_dir,
        consumer_extra_config=extra(consumer_config(kafka, f"{prefix}-quix", "bench-quix")),
        producer_extra_config=extra(producer_config(kafka, "bench-quix")),
        loglevel="WARNING",
    )
    raw = app.topic(topics.raw_webhooks, key_deserializer="bytes", value_deserializer="bytes")
    outputs: dict[str, Topic] = {}
    for family in EVENT_FAMILIES:
        name = topics.events(family)
        outputs[name] = app.topic(name, key_serializer="bytes", value_serializer=OutputValue())

    table = StateTable()
    deduper = Deduper(table, float(ProcessorSettings().dedupe_horizon_seconds))
    counts = {"forwarded": 0, "duplicate": 0}

    def process(
        value: bytes, key: bytes, _timestamp: int, headers: Any, state: State
    ) -> list[Output]:
        table.state = state
        dedupe = dedupe_key(key)
        now = time.time()
        if dedupe and deduper.is_duplicate(dedupe, now):
            counts["duplicate"] += 1
            return []
        produced = transform(headers or [], value, topics, normalise)
        if dedupe:  # committed with the outputs' flush, in the same checkpoint
            deduper.remember(dedupe, now)
        counts["forwarded"] += 1
        return produced

    sdf = app.dataframe(raw)
    sdf = sdf.apply(process, stateful=True, metadata=True, expand=True)
    sdf = sdf.set_headers(lambda value, _key, _ts, _headers: list(value.headers))
    sdf.to_topic(lambda value, _key, _ts, _headers: outputs[value.topic], key=lambda o: o.key)
    app.run()
    Path(counts_file).write_text(json.dumps(counts))


if __name__ == "__main__":
    main(*sys.argv[1:4])
