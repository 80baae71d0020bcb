"""One *walk* of a source: every record modified since a lower bound, page by page.

For each page, in this order:

1. take a token from the vendor's shared budget (a live poll reserves like a connector;
   a backfill takes only spare tokens, see :mod:`hookline.rate_buckets`);
2. fetch the page (records oldest first);
3. hash each body (sha256) and keep only the entities whose stored hash differs: a re-read
   of unchanged records emits nothing;
4. emit those to the raw topic and wait until Kafka acknowledged every one;
5. in one transaction, under the lease: store their hashes and the advanced cursor.

A crash before 5 re-reads the page on restart: its changed records are emitted again
under the same key (``poll:{entity}:{version}``), which the processors dedupe; unchanged
records are never emitted; no page is skipped, since the cursor moved only after its
records were acknowledged.

The cursor advances by modification time: after a page whose newest record is newer than
the walk's lower bound, the next page starts at that record's time (inclusive; the
records sharing it are read again and found unchanged), otherwise at the API's page token.
A walk that ends sets ``high_water`` to the newest time it saw; the next poll starts
``overlap`` before it, to catch writes that became visible late.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime, timedelta

from hookline.logs import get_logger
from pollers.base import Page, PolledRecord, PollThrottled, SourceAdapter
from pollers.emitter import Emitter
from pollers.store import Cursor, LeaseLost, PollStore

log = get_logger("hookline.pollers")

Acquire = Callable[[], Awaitable[float]]
OnPage = Callable[["Progress"], None]
#: After each committed page: (walk, records read, records emitted, when the page began).
PageLog = Callable[["Walk", int, int, datetime], Awaitable[None]]
#: Throttled pages retried within one walk before it gives up until the next interval.
MAX_THROTTLED_RETRIES = 5


@dataclass(frozen=True, slots=True)
class Progress:
    """After each committed page: the walk so far."""

    seen: int
    emitted: int
    position: datetime | None  # the lower bound of the next page
    finished: bool


@dataclass(frozen=True, slots=True)
class Walk:
    """One poll (``name`` = the poller) or backfill (``name`` = ``{poller}#backfill``)."""

    name: str
    poller: str
    source: str
    adapter: SourceAdapter
    page_size: int
    lease_seconds: float


class Walker:
    def __init__(
        self,
        store: PollStore,
        emitter: Emitter,
        acquire: Acquire,
        on_throttled: Acquire,
        page_log: PageLog | None = None,
    ) -> None:
        self._store = store
        self._emitter = emitter
        self._acquire = acquire
        self._on_throttled = on_throttled
        self._page_log = page_log

    async def walk(self, walk: Walk, start: Cursor, on_page: OnPage | None = None) -> Progress:
        """Walk from ``start`` (a cursor whose run is active) to the end; the cursor is saved
        after every page. Raises ``PollError``, ``PublishError`` or :class:`LeaseLost`."""
        cursor = start
        while True:
            began = datetime.now(UTC)
            if not await self._store.take_lease(walk.name, walk.lease_seconds):
                raise LeaseLost(walk.name)
            page = await self._fetch(walk, cursor)
            emitted = await self._emit_changed(walk, page.records)
            cursor = advance(cursor, page, len(emitted))
            await self._store.commit_page(walk.name, walk.source, cursor, emitted)
            if self._page_log is not None:
                await self._page_log(walk, len(page.records), len(emitted), began)
            progress = Progress(
                cursor.records_seen, cursor.records_emitted, cursor.run_since, not cursor.run_active
            )
            if on_page is not None:
                on_page(progress)
            if not cursor.run_active:
                return progress

    async def _fetch(self, walk: Walk, cursor: Cursor) -> Page:
        for attempt in range(MAX_THROTTLED_RETRIES + 1):
            await self._acquire()
            try:
                return await walk.adapter.fetch(cursor.run_since, cursor.run_after, walk.page_size)
            except PollThrottled as exc:
                if attempt == MAX_THROTTLED_RETRIES:
                    raise
                log.warning("poll throttled", poller=walk.poller, retry_after=exc.retry_after)
                await self._on_throttled()
                await asyncio.sleep(exc.retry_after)
        raise AssertionError("unreachable")

    async def _emit_changed(
        self, walk: Walk, records: tuple[PolledRecord, ...]
    ) -> list[tuple[str, bytes, str]]:
        latest = {r.entity_id: r for r in records}  # an entity twice on a page: its newest
        hashes = {entity: hashlib.sha256(r.body).digest() for entity, r in latest.items()}
        changed = await self._store.changed(walk.source, hashes) if hashes else set()
        out = [r for entity, r in latest.items() if entity in changed]
        await self._emitter.emit(walk.poller, walk.source, walk.adapter.provider, out)
        return [(r.entity_id, hashes[r.entity_id], r.version) for r in out]


def begin(cursor: Cursor, since: datetime | None) -> Cursor:
    """``cursor`` with a walk from ``since`` started, unless one is in progress (resume)."""
    if cursor.run_active:
        return cursor
    return replace(
        cursor,
        run_active=True,
        run_since=since,
        run_after=None,
        run_max=cursor.high_water,
        records_seen=0,
        records_emitted=0,
    )


def poll_start(cursor: Cursor, overlap_seconds: float) -> datetime | None:
    """Where a poll starts: ``overlap`` before the high-water mark (None: everything)."""
    if cursor.high_water is None:
        return None
    return cursor.high_water - timedelta(seconds=overlap_seconds)


def advance(cursor: Cursor, page: Page, emitted: int) -> Cursor:
    """The cursor after ``page``'s records are durable (see the module docstring)."""
    newest = max((r.updated_at for r in page.records), default=None)
    run_max = max((t for t in (cursor.run_max, newest) if t is not None), default=None)
    counted = replace(
        cursor,
        run_max=run_max,
        records_seen=cursor.records_seen + len(page.records),
        records_emitted=cursor.records_emitted + emitted,
    )
    if page.next_after is None:
        return replace(
            counted, high_water=run_max, run_active=False, run_since=None, run_after=None
        )
    if newest is not None and (cursor.run_since is None or newest > cursor.run_since):
        return replace(counted, run_since=newest, run_after=None)
    return replace(counted, run_after=page.next_after)
