"""The replay ledger: which dead letters have been replayed (table ``dead_letter_replays``).

A row is written only after Kafka acknowledged the replayed record, and a dead letter whose
row exists is never replayed again. Rows are keyed by the dead letter's topic, partition
and offset (a dead-letter topic deleted and recreated starts its offsets again: delete its
rows with it). One replay per dead-letter topic runs at a time: :meth:`ReplayLedger.hold`
takes a PostgreSQL advisory lock for the session, so two replays (CLI, admin API) cannot
both replay the same record.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import psycopg

_REPLAY_LOCK_CLASS = 7_236_116  # arbitrary, stable: first key of pg_try_advisory_lock


class ReplayBusy(RuntimeError):
    """Another replay of the same dead-letter topic is running."""


@dataclass(frozen=True, slots=True)
class LedgerRow:
    dlq_topic: str
    dlq_partition: int
    dlq_offset: int
    record_key: bytes | None
    original_topic: str
    stage: str
    component: str
    exception_class: str
    target_topic: str
    target_partition: int
    target_offset: int
    requested_by: str
    #: When the replay was sent (before Kafka's acknowledgement, after which a consumer
    #: may already have acted on the record): the replay's time in an event's trace.
    sent_at: datetime


class ReplayLedger:
    """The ledger on one PostgreSQL connection (autocommit: every write stands alone)."""

    def __init__(self, conn: psycopg.Connection[tuple[Any, ...]]) -> None:
        self._conn = conn

    @classmethod
    @contextmanager
    def connect(cls, conninfo: str) -> Iterator[ReplayLedger]:
        with psycopg.connect(conninfo, autocommit=True) as conn:
            yield cls(conn)

    @contextmanager
    def hold(self, dlq_topic: str) -> Iterator[None]:
        """Be the only replay of ``dlq_topic`` for the block; :class:`ReplayBusy` if not."""
        key = (_REPLAY_LOCK_CLASS, dlq_topic)
        row = self._conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", key).fetchone()
        if not row or not row[0]:
            raise ReplayBusy(f"another replay of {dlq_topic} is running")
        try:
            yield
        finally:
            self._conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", key)

    def replayed(
        self, dlq_topic: str, positions: Iterable[tuple[int, int]]
    ) -> set[tuple[int, int]]:
        """Which of these (partition, offset) positions of ``dlq_topic`` were replayed."""
        wanted = list(positions)
        if not wanted:
            return set()
        rows = self._conn.execute(
            "SELECT dlq_partition, dlq_offset FROM dead_letter_replays"
            " WHERE dlq_topic = %s AND (dlq_partition, dlq_offset) IN"
            " (SELECT * FROM unnest(%s::integer[], %s::bigint[]))",
            (dlq_topic, [p for p, _ in wanted], [o for _, o in wanted]),
        ).fetchall()
        return {(int(p), int(o)) for p, o in rows}

    def record(self, rows: Sequence[LedgerRow]) -> None:
        """Record replays (acknowledged by Kafka); a row already there is kept as it was."""
        if not rows:
            return
        with self._conn.cursor() as cursor:
            cursor.executemany(
                "INSERT INTO dead_letter_replays (dlq_topic, dlq_partition, dlq_offset,"
                " record_key, original_topic, stage, component, exception_class, target_topic,"
                " target_partition, target_offset, requested_by, replayed_at)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
                " ON CONFLICT DO NOTHING",
                [
                    (
                        r.dlq_topic,
                        r.dlq_partition,
                        r.dlq_offset,
                        r.record_key,
                        r.original_topic,
                        r.stage,
                        r.component,
                        r.exception_class,
                        r.target_topic,
                        r.target_partition,
                        r.target_offset,
                        r.requested_by,
                        r.sent_at,
                    )
                    for r in rows
                ],
            )

    def count(self, dlq_topic: str) -> int:
        row = self._conn.execute(
            "SELECT count(*) FROM dead_letter_replays WHERE dlq_topic = %s", (dlq_topic,)
        ).fetchone()
        return int(row[0]) if row else 0
