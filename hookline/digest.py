"""The daily digest: one UTC day of the pipeline in figures, read from PostgreSQL.

For the day ``[D 00:00, D+1 00:00)`` UTC (:func:`compute`):

- **per connector**: external calls and how many failed (``external_call_counts``,
  written by the connectors: the calls of ``hookline_connector_call_duration_seconds``,
  retriable and permanent ones are errors), batches and failed batches, and changes
  dead-lettered (the ``dead_lettered`` counts of its ``sync_runs`` rows, by start time);
- **sync runs** of the pollers by kind (``poll``, ``backfill``, ``reconcile``) and how
  many failed;
- **mismatches**: ``reconcile_mismatches`` detected that day, and open now;
- **top failing sources**: dead letters of the admin service's index (``dead_letters``,
  by ``failed_at``) plus failed polls and backfill pages, per source, the five highest.

``hookline digest [--date]`` prints it. The connectors service sends it through the alert
sink at ``connectors.digest_at`` (:class:`DigestSender`): the digest of day D is due at
``digest_at`` on D+1; the instance whose insert of D into ``digest_sends`` succeeds sends
it, so however many instances run, each day's digest goes out once (at most once: a send
that fails after the claim is logged, not repeated). An instance that starts after the
time sends the previous day's digest if nobody did.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from contextlib import suppress
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta

from psycopg_pool import AsyncConnectionPool

from hookline.alerts import Alert, AlertSink
from hookline.db import create_pool
from hookline.logs import get_logger
from hookline.outages import unavailable_dependency
from hookline.settings import PostgresSettings

log = get_logger("hookline.digest")

TOP_SOURCES = 5

_CALLS = """
SELECT connector, sum(calls), coalesce(sum(calls) FILTER (WHERE category <> 'success'), 0)
FROM external_call_counts WHERE hour >= %(start)s AND hour < %(end)s GROUP BY connector
"""
_BATCHES = """
SELECT connector, count(*), count(*) FILTER (WHERE outcome = 'failed'),
       coalesce(sum((detail -> 'counts' ->> 'dead_lettered')::bigint), 0)
FROM sync_runs WHERE kind = 'connector' AND started_at >= %(start)s AND started_at < %(end)s
GROUP BY connector
"""
_RUNS = """
SELECT kind, count(*), count(*) FILTER (WHERE outcome = 'failed')
FROM sync_runs WHERE kind <> 'connector' AND started_at >= %(start)s AND started_at < %(end)s
GROUP BY kind ORDER BY kind
"""
_MISMATCHES = """
SELECT count(*) FILTER (WHERE detected_at >= %(start)s AND detected_at < %(end)s),
       count(*) FILTER (WHERE status = 'open')
FROM reconcile_mismatches
"""
_FAILING_SOURCES = """
SELECT source, sum(n)::bigint FROM (
    SELECT source, count(*) AS n FROM dead_letters
    WHERE source IS NOT NULL AND failed_at >= %(start)s AND failed_at < %(end)s GROUP BY source
    UNION ALL
    SELECT source, count(*) FROM sync_runs
    WHERE kind IN ('poll', 'backfill') AND outcome = 'failed' AND source IS NOT NULL
      AND started_at >= %(start)s AND started_at < %(end)s GROUP BY source
) AS failures GROUP BY source ORDER BY 2 DESC, 1 LIMIT %(top)s
"""
_CLAIM = """
INSERT INTO digest_sends (day, sent_by) VALUES (%s, %s) ON CONFLICT (day) DO NOTHING RETURNING day
"""


@dataclass(frozen=True, slots=True)
class ConnectorDay:
    connector: str
    calls: int = 0
    call_errors: int = 0
    batches: int = 0
    failed_batches: int = 0
    dead_letters: int = 0

    @property
    def error_rate(self) -> float:
        return self.call_errors / self.calls if self.calls else 0.0


@dataclass(frozen=True, slots=True)
class Digest:
    day: date
    connectors: tuple[ConnectorDay, ...]
    runs: dict[str, tuple[int, int]]  # kind -> (runs, failed)
    mismatches_found: int
    mismatches_open: int
    failing_sources: tuple[tuple[str, int], ...]


def window(day: date) -> dict[str, object]:
    start = datetime.combine(day, time(), UTC)
    return {"start": start, "end": start + timedelta(days=1), "top": TOP_SOURCES}


async def compute(pool: AsyncConnectionPool, day: date) -> Digest:
    """The figures of ``day`` (UTC), as the tables hold them now."""
    params = window(day)
    async with pool.connection() as conn:
        calls = await (await conn.execute(_CALLS, params)).fetchall()
        batches = await (await conn.execute(_BATCHES, params)).fetchall()
        runs = await (await conn.execute(_RUNS, params)).fetchall()
        found, still_open = await (await conn.execute(_MISMATCHES, params)).fetchone() or (0, 0)
        sources = await (await conn.execute(_FAILING_SOURCES, params)).fetchall()
    per_call = {name: (int(n), int(errors)) for name, n, errors in calls}
    per_batch = {name: (int(n), int(failed), int(dead)) for name, n, failed, dead in batches}
    connectors = tuple(
        ConnectorDay(name, *per_call.get(name, (0, 0)), *per_batch.get(name, (0, 0, 0)))
        for name in sorted({*per_call, *per_batch})
    )
    return Digest(
        day=day,
        connectors=connectors,
        runs={kind: (int(n), int(failed)) for kind, n, failed in runs},
        mismatches_found=int(found),
        mismatches_open=int(still_open),
        failing_sources=tuple((str(s), int(n)) for s, n in sources),
    )


def lines(digest: Digest) -> dict[str, str]:
    """The digest as labelled lines (an alert's details, the printed report)."""
    out = {
        f"connector {c.connector}": (
            f"{c.calls} API calls, {c.call_errors} failed ({c.error_rate:.1%}); "
            f"{c.batches} batches, {c.failed_batches} failed; {c.dead_letters} dead letters"
        )
        for c in digest.connectors
    }
    out |= {f"{kind} runs": f"{n}, {failed} failed" for kind, (n, failed) in digest.runs.items()}
    out["mismatches"] = f"{digest.mismatches_found} found, {digest.mismatches_open} open now"
    failing = ", ".join(f"{s} {n}" for s, n in digest.failing_sources)
    out["top failing sources"] = failing or "none"
    return out


def render(digest: Digest) -> str:
    body = "\n".join(f"{k}: {v}" for k, v in lines(digest).items())
    return f"Hookline daily digest for {digest.day.isoformat()} (UTC)\n{body}"


def as_alert(digest: Digest) -> Alert:
    summary = f"Daily digest for {digest.day.isoformat()} (UTC)"
    return Alert("hookline", "daily_digest", summary, dict(lines(digest)))


def due_day(now: datetime, at: time) -> date:
    """The newest day whose digest is due at ``now``: D's is due at ``at`` on D+1."""
    moment = now.astimezone(UTC)
    return (moment - timedelta(hours=at.hour, minutes=at.minute)).date() - timedelta(days=1)


def _now() -> datetime:
    return datetime.now(UTC)


class DigestSender:
    """Sends each day's digest once across instances; see the module docstring."""

    def __init__(
        self,
        pool: AsyncConnectionPool,
        sink: AlertSink,
        at: time,
        instance: str,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self._pool = pool
        self._sink = sink
        self._at = at
        self._instance = instance
        self._clock = clock

    async def send_due(self) -> date | None:
        """Claim the due day's digest and send it; the day sent, or None (claimed already)."""
        day = due_day(self._clock(), self._at)
        async with self._pool.connection() as conn:
            claimed = await (await conn.execute(_CLAIM, (day, self._instance))).fetchone()
        if claimed is None:
            return None
        digest = await compute(self._pool, day)
        try:
            await self._sink.send(as_alert(digest))
        except Exception:  # a sink should not raise; alerting never stops the service
            log.exception("digest not sent", day=day.isoformat())
        log.info("digest sent", day=day.isoformat())
        return day

    async def run(self, stop: asyncio.Event, check_every_seconds: float = 60.0) -> None:
        """Until ``stop``: send each digest when due (checked every minute)."""
        while not stop.is_set():
            try:
                await self.send_due()
            except Exception as exc:  # tried again at the next check
                dependency = unavailable_dependency(exc)
                if dependency is None:
                    log.exception("digest check failed")
                else:  # an outage, not a defect: one line, no traceback
                    log.warning("digest check failed", dependency=dependency, error=str(exc))
            with suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), check_every_seconds)


def parse_at(value: str) -> time:
    """``HH:MM`` (the setting's format) as a UTC time."""
    hour, minute = value.split(":")
    return time(int(hour), int(minute), tzinfo=UTC)


async def report(postgres: PostgresSettings, day: date) -> str:
    """The printed digest of ``day`` (``hookline digest``)."""
    pool = create_pool(postgres)
    await pool.open(wait=True)
    try:
        return render(await compute(pool, day))
    finally:
        await pool.close()
