"""The sync log of the pollers: one ``sync_runs`` row per poll, backfill page and
reconciliation, metrics for each, and an alert when runs keep failing.

A row holds ``kind`` (``poll``, ``backfill``, ``reconcile``), ``connector`` (the poller or
reconciliation name), ``source``, ``destination`` (where the records went: the raw topic,
or the pair of systems compared), the counts seen/changed/emitted, ``outcome`` (``ok`` or
``failed``), start and end (the duration) and ``error`` (exception class and reason; the
reasons of this layer never hold a secret or a body).

**Alerts**: when a failed run makes :data:`FAILURE_STREAK` (3) failed runs in a row of
one (kind, name), counted in the table (so a streak survives a restart and a lease
changing hands), the sink gets an alert of kind ``runs_failing``; again at 6, 9, … so a
long outage alerts now and then, not on every run. Writing the row or alerting never
raises: the sync log must not stop the sync it reports on.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from psycopg_pool import AsyncConnectionPool

from hookline.alerts import Alert, AlertSink
from hookline.logs import get_logger
from pollers.metrics import PollerMetrics

log = get_logger("hookline.pollers.synclog")

FAILURE_STREAK = 3

_INSERT = """
INSERT INTO sync_runs (kind, connector, source, destination, started_at, finished_at,
                       record_count, records_seen, records_changed, records_emitted,
                       outcome, error)
VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)
"""
#: Failed rows newer than the newest successful one of this (kind, name).
_STREAK = """
SELECT count(*) FROM sync_runs
WHERE kind = %(kind)s AND connector = %(name)s AND outcome = 'failed'
  AND id > COALESCE((SELECT max(id) FROM sync_runs WHERE kind = %(kind)s
                     AND connector = %(name)s AND outcome <> 'failed'), 0)
"""


@dataclass(frozen=True, slots=True)
class SyncRun:
    kind: str  # poll, backfill, reconcile
    name: str  # the poller or reconciliation
    source: str
    destination: str
    started_at: datetime
    finished_at: datetime
    seen: int = 0
    changed: int = 0
    emitted: int = 0
    error: str | None = None  # None: the run succeeded

    @property
    def status(self) -> str:
        return "ok" if self.error is None else "failed"


def describe_error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"[:500]


class SyncLog:
    def __init__(self, pool: AsyncConnectionPool, metrics: PollerMetrics, sink: AlertSink) -> None:
        self._pool = pool
        self._metrics = metrics
        self._sink = sink

    async def record(self, run: SyncRun) -> None:
        """Write ``run``'s row and metrics; alert on a streak of failures."""
        self._count(run)
        try:
            streak = await self._write(run)
        except Exception as exc:  # the log must not stop the sync
            log.warning("sync log write failed", name=run.name, error=type(exc).__name__)
            return
        if run.error is not None and streak and streak % FAILURE_STREAK == 0:
            await self._alert(run, streak)

    def _count(self, run: SyncRun) -> None:
        self._metrics.runs.labels(run.name, run.kind, run.status).inc()
        for stage, count in (
            ("seen", run.seen),
            ("changed", run.changed),
            ("emitted", run.emitted),
        ):
            if count:
                self._metrics.records.labels(run.name, run.kind, stage).inc(count)

    async def _write(self, run: SyncRun) -> int:
        row = (run.kind, run.name, run.source, run.destination, run.started_at, run.finished_at,
               run.emitted, run.seen, run.changed, run.emitted, run.status, run.error)  # fmt: skip
        async with self._pool.connection() as conn:
            await conn.execute(_INSERT, row)
            if run.error is None:
                return 0
            found = await (
                await conn.execute(_STREAK, {"kind": run.kind, "name": run.name})
            ).fetchone()
        return int(found[0]) if found else 0

    async def _alert(self, run: SyncRun, streak: int) -> None:
        alert = Alert(
            run.name,
            "runs_failing",
            f"{streak} {run.kind} runs of {run.name} failed in a row",
            {"kind": run.kind, "source": run.source, "error": run.error},
        )
        try:
            await self._sink.send(alert)
        except Exception as exc:
            log.warning("alert sink failed", name=run.name, error=type(exc).__name__)
