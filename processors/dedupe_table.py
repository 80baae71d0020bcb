"""The dedupe table of the faust worker, read per record and written a batch at a time.

The table is a faust Table (RocksDB, one database per partition of the raw topic, with a
changelog topic): faust creates it, recovers it on start and rebalance by replaying the
changelog, and expires it (RocksDB TTL, changelog retention). Only its write path is
ours. faust's ``table[key] = value`` writes RocksDB and queues one changelog record per
key through faust's aiokafka producer, in Python on the event loop, with a callback per
record that writes the changelog offset to RocksDB again: about a fifth of the worker's
CPU (bench/bench_processors.py). :meth:`DedupeTable.remember` writes the same bytes to the
same places (the source partition's database, one ``WriteBatch``; the changelog topic's
partition of the same number, the table's own key and value serialisation) through a
confluent-kafka producer, and records the changelog offset faust resumes recovery from
once per partition and batch; faust's recovery reads them as its own.

Guarantees: :meth:`~DedupeTable.remember` returns only once every changelog record is
acknowledged (``acks=all``) and raises if one is not; a key it remembered is a duplicate
for :meth:`~DedupeTable.is_duplicate` until the horizon has passed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from typing import Any

import rocksdict
from faust.types import TP, TableT

from hookline.kafka_clients import AsyncProducer


class DedupeTable:
    def __init__(
        self, table: TableT[str, float], producer: AsyncProducer, horizon_seconds: float
    ) -> None:
        self._table = table
        self._producer = producer
        self._horizon = horizon_seconds

    @property
    def _store(self) -> Any:
        # faust's RocksDB store of the table (created when the worker starts).
        return self._table.data

    def is_duplicate(self, partition: int, key: str, now: float) -> bool:
        """Whether ``key`` was remembered within the horizon before ``now`` (epoch s)."""
        store = self._store
        raw = store._db_for_partition(partition).get(store._encode_key(key))
        if raw is None:
            return False
        first_seen: float = store._decode_value(raw)
        return now - first_seen < self._horizon

    async def remember(self, partition: int, first_seen: Mapping[str, float]) -> None:
        """Remember keys of one partition (key -> epoch second first forwarded): one
        RocksDB write, then the changelog records; return once all are acknowledged."""
        store = self._store
        encoded = [(store._encode_key(k), store._encode_value(v)) for k, v in first_seen.items()]
        batch = rocksdict.WriteBatch(raw_mode=True)
        for key, value in encoded:
            batch.put(key, value)
        store._db_for_partition(partition).write(batch)
        topic = self._table.changelog_topic.get_topic_name()
        sent = [self._producer.send(topic, v, k, partition=partition) for k, v in encoded]
        delivered = await asyncio.gather(*sent)
        store.set_persisted_offset(TP(topic, partition), max(d.offset for d in delivered))
