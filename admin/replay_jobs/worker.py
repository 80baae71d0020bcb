"""The replay-job worker of the admin service: takes an active job, replays it chunk by
chunk, saves progress after each chunk, and stops between chunks.

Guarantees: each dead letter is replayed at most once however often a job is stopped,
taken over or retried: :func:`hookline.replay.replay_positions` consults and writes the
replay ledger (shared with ``hookline replay`` and the single replay route), and a chunk
whose replays landed but whose progress was not saved is found in the ledger next time
and counted as this job's. A stopping service finishes its chunk in flight, saves it and
releases the job, so the next admin process resumes after it at once; a crashed one's
lease expires after ``LEASE_SECONDS``. Kafka that does not acknowledge, or another
replay holding a topic, makes the worker retry the same chunk later (``last_error``).
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections import defaultdict
from typing import Any

import psycopg
from psycopg_pool import AsyncConnectionPool

from admin.replay_jobs import store
from hookline.logs import get_logger
from hookline.replay import ReplayError, replay_positions
from hookline.replay_ledger import ReplayBusy
from hookline.settings import Settings

LEASE_SECONDS = 60.0
POLL_SECONDS = 1.0
RETRY_SECONDS = 2.0


class ReplayJobWorker:
    def __init__(self, settings: Settings, pool: AsyncConnectionPool) -> None:
        self._settings = settings
        self._pool = pool
        self._owner = f"{socket.gethostname()}:{os.getpid()}:{uuid.uuid4().hex[:8]}"
        self._log = get_logger("hookline.admin.replay_jobs")

    async def run(self, stop: asyncio.Event) -> None:
        """Work on jobs until ``stop`` is set."""
        while not stop.is_set():
            try:
                job = await store.claim(self._pool, self._owner, LEASE_SECONDS)
                if job is not None:
                    await self._work(job, stop)
                    continue
            except psycopg.Error as exc:
                self._log.warning("replay jobs: database unavailable", error=type(exc).__name__)
            await _sleep(stop, POLL_SECONDS)

    async def _work(self, job: dict[str, Any], stop: asyncio.Event) -> None:
        job_id = job["id"]
        try:
            current: dict[str, Any] | None = job
            while current is not None and current["state"] == "running" and not stop.is_set():
                current = await self._step(current, stop)
        finally:
            await store.release(self._pool, job_id, self._owner)

    async def _step(self, job: dict[str, Any], stop: asyncio.Event) -> dict[str, Any] | None:
        """One chunk: the job as it is after it, or None when it is finished."""
        rows = await store.next_chunk(self._pool, job)
        if not rows:
            await store.finish(self._pool, job["id"], self._owner)
            return None
        try:
            progress = await asyncio.to_thread(self._replay, job["id"], rows)
        except (ReplayError, ReplayBusy) as exc:
            reason = f"{type(exc).__name__}: {exc}"
            self._log.warning(
                "replay job retrying a chunk", job=job["id"], error=type(exc).__name__
            )
            await store.note_error(self._pool, job["id"], self._owner, reason)
            await _sleep(stop, RETRY_SECONDS)
            return job
        return await store.advance(self._pool, job, progress, self._owner, LEASE_SECONDS)

    def _replay(self, job_id: int, rows: list[dict[str, Any]]) -> store.Progress:
        """Blocking: replay the open rows of one chunk, topic by topic."""
        by = store.requested_by(job_id)
        done, failed, skipped = 0, 0, 0
        marks: list[tuple[str, int, int]] = []
        open_rows: dict[str, list[tuple[int, int]]] = defaultdict(list)
        for row in rows:
            position = (row["topic"], row["partition"], row["offset"])
            if row["ledger_by"] == by:  # replayed by this job before its progress was saved
                done += 1
                marks.append(position)
            elif row["discarded_at"] or row["replayed_at"] or row["ledger_by"]:
                skipped += 1
            else:
                open_rows[row["topic"]].append(position[1:])
        for topic, positions in open_rows.items():
            try:
                report = replay_positions(
                    self._settings.kafka,
                    self._settings.postgres.conninfo(),
                    topic,
                    positions,
                    requested_by=by,
                )
            except ValueError:  # not a dead-letter topic of this prefix: never replayable
                failed += len(positions)
                continue
            done += len(report.replayed)
            skipped += len(report.already_replayed)
            failed += len(report.missing)
            marks += [(topic, p, o) for p, o in report.replayed]
        return store.Progress(rows[-1]["id"], done, failed, skipped, marks)


async def _sleep(stop: asyncio.Event, seconds: float) -> None:
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
