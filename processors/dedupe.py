"""Dedupe by (source, provider event ID) over a key-value table, with a horizon.

The table maps a raw record key (``{source}:{event id}``) to the epoch second it was first
forwarded. A key seen within the horizon is a duplicate; an older entry counts as unseen
(the provider's retries stopped days before). Only forwarded events are remembered: a
dead-lettered event is not, so replaying it after a fix goes through.

In the worker the table is a faust Table on RocksDB with a changelog topic. Memory does
not grow with the number of keys: RocksDB keeps them on disk, and its write buffers and
block cache (``HOOKLINE_PROCESSORS__DEDUPE_*_BYTES``, per partition) bound what it holds in
memory. A restarted or rebalanced worker recovers the keys from the changelog, and
RocksDB's TTL plus the changelog's ``compact,delete`` retention bound the disk to the
horizon (about 25 MiB per million keys once flushed: bench/bench_processors.py).
"""

from __future__ import annotations

from collections.abc import MutableMapping


class Deduper:
    def __init__(self, table: MutableMapping[str, float], horizon_seconds: float) -> None:
        self._table = table
        self._horizon = horizon_seconds

    def is_duplicate(self, key: str, now: float) -> bool:
        first_seen = self._table.get(key)
        return first_seen is not None and now - first_seen < self._horizon

    def remember(self, key: str, now: float) -> None:
        self._table[key] = now
