"""The pollers' resources and their two uses: the scheduler and a backfill.

:func:`open_service` builds, from the settings root, one PostgreSQL pool, one producer
(idempotent, ``acks=all``) and the adapters of the configured pollers, and closes them.

**Scheduling** (:meth:`PollerService.run_scheduled`): every instance runs one loop per
configured poller; a loop polls only while it holds that poller's lease (a row in
``poll_leases`` with an expiry, renewed before each page and while it waits), so one
instance polls a source at a time. A holder that dies stops renewing: another instance
takes the lease once it expired (within ``lease_seconds`` plus a third of it). Polls are
``interval_seconds`` apart, spread by ±``jitter``.

**Backfill** (:meth:`PollerService.backfill`): a walk of the whole history (or from a
date) under its own cursor and lease (``{poller}#backfill``), sharing the state hashes of
the source, so it emits only what neither the poller nor an earlier backfill emitted.

**Sync log** (:mod:`pollers.synclog`): every poll is one ``sync_runs`` row (kind
``poll``), every backfill page one (kind ``backfill``), a failed poll or backfill page a
``failed`` row with its error; three failures in a row alert through the sink.

**Reconciliation** (:mod:`pollers.reconcile`): with a ``[reconcile]`` table, one more
scheduled loop under the lease ``reconcile:<name>`` runs :meth:`Reconciler.run` every
``interval_seconds`` (repairing when the config says ``repair = true``).
"""

from __future__ import annotations

import asyncio
import os
import random
import socket
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial

from prometheus_client import CollectorRegistry
from psycopg_pool import AsyncConnectionPool

from hookline.alerts import AlertSink, LoggingAlertSink
from hookline.db import create_pool
from hookline.kafka_clients import AsyncProducer, PublishError, producer_config
from hookline.logs import get_logger
from hookline.rate_buckets import SharedBucket, hold_back
from hookline.settings import Settings
from hookline.topics import Topics
from pollers.adapters import REGISTRY
from pollers.base import PollError, SourceAdapter
from pollers.config import PollerConfig
from pollers.emitter import Emitter
from pollers.metrics import PollerMetrics
from pollers.reconcile.config import ReconcileConfig
from pollers.reconcile.repair import Repairer
from pollers.reconcile.runner import PairResult, Reconciler
from pollers.runner import OnPage, PageLog, Progress, Walk, Walker, begin, poll_start
from pollers.store import LeaseLost, PollStore
from pollers.synclog import SyncLog, SyncRun, describe_error

#: What a failed poll or backfill page raises; anything else is a bug and propagates.
RUN_ERRORS = (PollError, PublishError, LeaseLost)

log = get_logger("hookline.pollers")
BACKFILL_SUFFIX = "#backfill"


def default_holder() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def jittered(seconds: float, jitter: float) -> float:
    return seconds * (1 + random.uniform(-jitter, jitter))  # noqa: S311 - not security


RECONCILE_LEASE_PREFIX = "reconcile:"


@dataclass(frozen=True, slots=True)
class _Schedule:
    interval_seconds: float
    jitter: float
    lease_seconds: float

    @classmethod
    def of(cls, config: PollerConfig | ReconcileConfig) -> _Schedule:
        return cls(config.interval_seconds, config.jitter, config.lease_seconds)


@dataclass
class _Poller:
    config: PollerConfig
    adapter: SourceAdapter
    bucket: SharedBucket | None


class PollerService:
    def __init__(
        self,
        settings: Settings,
        pool: AsyncConnectionPool,
        emitter: Emitter,
        configs: dict[str, PollerConfig],
        holder: str,
        *,
        metrics: PollerMetrics,
        sink: AlertSink,
        reconciler: Reconciler | None = None,
    ) -> None:
        self._settings = settings
        self._pool = pool
        self.store = PollStore(pool, holder)
        self._emitter = emitter
        self._pollers = {name: _poller(pool, config) for name, config in configs.items()}
        self.metrics = metrics
        self.sync_log = SyncLog(pool, metrics, sink)
        self._raw_topic = Topics(settings.kafka.topic_prefix).raw_webhooks
        self.reconciler = reconciler

    async def prepare(self) -> None:
        for poller in self._pollers.values():
            limit = poller.config.rate_limit
            if poller.bucket is not None and limit is not None:
                await poller.bucket.create_if_missing(limit.requests_per_second, limit.burst)

    async def close(self) -> None:
        for poller in self._pollers.values():
            await poller.adapter.close()
        if self.reconciler is not None:
            await self.reconciler.close()

    async def poll_once(self, name: str) -> Progress:
        """One poll of ``name`` (resuming a walk cut short); the caller holds its lease."""
        poller = self._pollers[name]
        started = datetime.now(UTC)
        try:
            cursor = await self.store.cursor(name)
            start = begin(cursor, poll_start(cursor, poller.config.overlap_seconds))
            walker = self._walker(poller, spare=False)
            progress = await walker.walk(self._walk(poller, name), start)
        except RUN_ERRORS as exc:
            await self._log_run("poll", poller, started, error=describe_error(exc))
            raise
        await self._log_run("poll", poller, started, seen=progress.seen, emitted=progress.emitted)
        await self._observe_lag(name)
        return progress

    async def _log_run(
        self,
        kind: str,
        poller: _Poller,
        started: datetime,
        *,
        seen: int = 0,
        emitted: int = 0,
        error: str | None = None,
    ) -> None:
        config = poller.config
        run = SyncRun(kind, config.name, config.source, self._raw_topic, started,
                      datetime.now(UTC), seen, emitted, emitted, error)  # fmt: skip
        await self.sync_log.record(run)

    async def _observe_lag(self, name: str) -> None:
        high_water = (await self.store.cursor(name)).high_water
        if high_water is not None:
            lag = (datetime.now(UTC) - high_water).total_seconds()
            self.metrics.cursor_lag.labels(name).set(max(lag, 0.0))

    async def backfill(
        self, name: str, since: datetime | None, on_page: OnPage | None = None
    ) -> Progress:
        """Walk ``name``'s history from ``since`` (None: all), resuming a backfill that was
        interrupted (its stored position wins over ``since``). :class:`LeaseLost` when
        another backfill of it runs."""
        poller = self._pollers[name]
        walk_name = name + BACKFILL_SUFFIX
        if not await self.store.take_lease(walk_name, poller.config.lease_seconds):
            raise LeaseLost(walk_name)
        started = datetime.now(UTC)

        async def page_log(_walk: Walk, seen: int, emitted: int, began: datetime) -> None:
            nonlocal started
            await self._log_run("backfill", poller, began, seen=seen, emitted=emitted)
            started = datetime.now(UTC)

        try:
            start = begin(await self.store.cursor(walk_name), since)
            walker = self._walker(poller, spare=True, page_log=page_log)
            return await walker.walk(self._walk(poller, walk_name), start, on_page)
        except RUN_ERRORS as exc:
            await self._log_run("backfill", poller, started, error=describe_error(exc))
            raise
        finally:
            await self.store.release_lease(walk_name)

    async def run_scheduled(self, stop: asyncio.Event) -> None:
        """Poll every configured source (and reconcile) on its schedule until ``stop``."""
        loops = [
            self._schedule(name, _Schedule.of(p.config), partial(self._poll_logged, name), stop)
            for name, p in self._pollers.items()
        ]
        if self.reconciler is not None:
            config = self.reconciler.config
            lease = RECONCILE_LEASE_PREFIX + config.name
            loops.append(self._schedule(lease, _Schedule.of(config), self._reconcile, stop))
        await asyncio.gather(*loops)

    async def _reconcile(self) -> None:
        if self.reconciler is not None:
            await self.reconcile(self.reconciler.config.repair)

    async def reconcile(self, repair: bool) -> list[PairResult]:
        """One reconciliation run now (none configured: nothing compared)."""
        if self.reconciler is None:
            return []
        return await self.reconciler.run(repair=repair)

    async def _schedule(
        self,
        lease: str,
        every: _Schedule,
        action: Callable[[], Awaitable[None]],
        stop: asyncio.Event,
    ) -> None:
        """Run ``action`` every ``every.interval_seconds`` while holding ``lease``."""
        renew_every = every.lease_seconds / 3
        next_run = 0.0
        loop = asyncio.get_running_loop()
        while not stop.is_set():
            held = await self.store.take_lease(lease, every.lease_seconds)
            if held and loop.time() >= next_run:
                await action()
                next_run = loop.time() + jittered(every.interval_seconds, every.jitter)
            wait = min(renew_every, max(next_run - loop.time(), 0.0)) if held else renew_every
            await _sleep_or_stop(stop, jittered(wait, 0.1) if not held else wait)
        await self.store.release_lease(lease)

    async def _poll_logged(self, name: str) -> None:
        try:
            progress = await self.poll_once(name)
        except RUN_ERRORS as exc:
            failure: Exception = exc
        else:
            log.info("poll done", poller=name, seen=progress.seen, emitted=progress.emitted)
            return
        log.error("poll failed", poller=name, error=type(failure).__name__, reason=str(failure))

    def _walk(self, poller: _Poller, name: str) -> Walk:
        config = poller.config
        return Walk(name, config.name, config.source, poller.adapter, config.page_size,
                    config.lease_seconds)  # fmt: skip

    def _walker(self, poller: _Poller, *, spare: bool, page_log: PageLog | None = None) -> Walker:
        bucket = poller.bucket
        reserve = self._settings.pollers.backfill_reserve_share
        acquire: Callable[[], Awaitable[float]] = _no_wait
        throttled: Callable[[], Awaitable[float]] = _no_wait
        if bucket is not None:
            acquire = (lambda: bucket.acquire_spare(reserve)) if spare else bucket.acquire

            async def throttled() -> float:
                await hold_back(self._pool, bucket.bucket, 1.0)
                return 0.0

        return Walker(self.store, self._emitter, acquire, throttled, page_log)


def _poller(pool: AsyncConnectionPool, config: PollerConfig) -> _Poller:
    bucket = SharedBucket(pool, config.rate_limit.bucket) if config.rate_limit else None
    return _Poller(config, REGISTRY[config.api.type].build(config.api), bucket)


async def _no_wait() -> float:
    return 0.0


async def _sleep_or_stop(stop: asyncio.Event, seconds: float) -> None:
    with suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), timeout=max(seconds, 0.0))


@asynccontextmanager
async def open_service(
    settings: Settings,
    configs: dict[str, PollerConfig],
    holder: str | None = None,
    *,
    registry: CollectorRegistry | None = None,
    sink: AlertSink | None = None,
    reconcile: ReconcileConfig | None = None,
) -> AsyncIterator[PollerService]:
    """The service with its pool open and producer ready; closed on exit (the producer
    flushed first). Metrics go to ``registry`` (default: a fresh one), alerts to ``sink``
    (default: the log); with ``reconcile``, ``service.reconciler`` runs it."""
    pool = create_pool(settings.postgres, autocommit=True, checked=True)
    await pool.open()
    producer = AsyncProducer(producer_config(settings.kafka, "pollers"))
    emitter = Emitter(producer, Topics(settings.kafka.topic_prefix).raw_webhooks)
    who = holder or settings.pollers.instance_id or default_holder()
    metrics = PollerMetrics.create(registry or CollectorRegistry())
    alerts = sink or LoggingAlertSink()
    reconciler = None
    if reconcile is not None:
        topics = Topics(settings.kafka.topic_prefix)
        repairer = Repairer(pool, producer, topics)
        synclog = SyncLog(pool, metrics, alerts)
        reconciler = Reconciler(reconcile, pool, repairer, synclog, metrics)
    service = PollerService(
        settings, pool, emitter, configs, who, metrics=metrics, sink=alerts, reconciler=reconciler
    )
    try:
        await service.prepare()
        yield service
    finally:
        await service.close()
        await asyncio.get_running_loop().run_in_executor(None, producer.close, 10.0)
        await pool.close()
