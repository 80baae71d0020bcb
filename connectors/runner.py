"""The connector runner: poll a batch, deliver it, commit what is durable, repeat.

**Batches.** A poll returns up to ``batch_size`` records of the normalised topics and the
retry topic. Records of one entity (the Kafka key) are delivered one after another, in
order; different entities concurrently, at most ``concurrency`` calls to the destination in
flight (:class:`~connectors.delivery.Deliverer`: a change waiting for its state to be
written holds no call slot). While a batch is delivered the
consumer keeps polling into a buffer of at most one batch (the next batch's head), so
fetching overlaps delivery and a slow batch (a rate limit, a breaker waiting out its
cooldown) never trips ``max.poll.interval.ms``. Once the buffer is full every partition is
paused: consumption stops, which is how an open breaker pauses the connector.

**Retry topics.** A retry record that has not woken up yet is not delivered: the runner
seeks its partition back to it and keeps that partition paused until it wakes. Retry tiers
(:mod:`connectors.retry_tiers`) make a partition's head the first to wake, so a long
``Retry-After`` holds up no other retry; the normalised topics are never held up by one.

**Offsets.** A record's offset counts as done once its outcome is durable (state written
after the destination accepted it, skipped, retry record acknowledged, dead letter
acknowledged). Per partition the runner commits up to the first offset not done, during a
batch and at its end; on a rebalance it cancels the batch and commits that much before the
partitions go. Anything not committed is delivered again, which idempotency keys and state
hashes make harmless.

**Audit.** Every batch is a row in ``sync_runs``; three failed batches in a row raise an
alert. The consumer lag is exported every few seconds.

**Operators' pause** (:mod:`connectors.control`, polled every second): while paused no
batch starts and every partition stays paused; a batch in delivery finishes first.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, defaultdict
from collections.abc import Iterable
from datetime import UTC, datetime

from confluent_kafka import Message, TopicPartition

from connectors.alerts import Alert
from connectors.consumer import TP, AsyncConsumer, OffsetTracker, Prefetch
from connectors.control import ConnectorControl
from connectors.delivery import Deliverer, Inbound, Services
from connectors.metrics import SETTLED, Outcome
from connectors.retry_tiers import wake_ms
from connectors.state import BatchRun
from hookline.dead_letter import SourceRecord
from hookline.logs import get_logger

log = get_logger("hookline.connectors")

KEEPALIVE_SECONDS = 0.5  # how often a paused consumer is polled during a batch
FAILED_BATCHES_ALERT = 3
_REVOKE_TIMEOUT_SECONDS = 30.0


class ConnectorRunner:
    def __init__(
        self,
        services: Services,
        consumer: AsyncConsumer,
        shutdown_grace_seconds: float,
        control: ConnectorControl | None = None,
    ) -> None:
        self._s = services
        self._name = services.config.name
        self._consumer = consumer
        self._deliverer = Deliverer(services)
        self._grace = shutdown_grace_seconds
        self._retry_topics = services.topics.connector_retries(self._name)
        self._held: dict[TP, float] = {}  # retry partitions paused until (Unix seconds)
        self._ahead = Prefetch(services.config.batch_size)  # polled while a batch ran
        self._batch: asyncio.Task[Counter[Outcome]] | None = None
        self._tracker: OffsetTracker | None = None
        self._abandoned = False
        self._throttled = False  # every partition paused because the buffer is full
        self._failed_batches = 0
        services.metrics.initialise(self._name, services.config.conflict.policy)
        # The counters' children, looked up once instead of per record.
        self._delivered = {
            o: services.metrics.deliveries.labels(self._name, o.value) for o in Outcome
        }
        self._sync_log: asyncio.Task[None] | None = None  # the last batch's sync_runs row
        self._next_lag = 0.0
        self._control = control
        self._operator_paused = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self.assigned = asyncio.Event()  # set once the group gave this instance partitions

    def partitions(self) -> set[TP]:
        """The partitions this instance holds now."""
        return set(self._consumer.assigned)

    def retry_topics(self) -> list[str]:
        """The base retry topic and every tier's (connectors.retry_tiers)."""
        return list(self._retry_topics)

    def topics(self) -> list[str]:
        topics = self._s.topics
        return [*(topics.events(f) for f in self._s.config.families), *self._retry_topics]

    async def run(self, stop: asyncio.Event) -> None:
        """Deliver until ``stop`` is set; raise when infrastructure fails (Kafka, PostgreSQL)."""
        self._loop = asyncio.get_running_loop()
        await self._consumer.subscribe(self.topics(), self._on_assign, self._on_revoke)
        log.info("connector started", connector=self._name, topics=self.topics())
        try:
            while not stop.is_set():
                await self._resume_due()
                if await self._paused_by_operator():
                    continue
                if self._ahead.room:
                    await self._poll_ahead(0 if len(self._ahead) else self._poll_timeout())
                items = await self._intake(self._ahead.take())
                if items:
                    await self._run_batch(items, stop)
                await self._export_lag()
        finally:
            await self.flush_sync_log()
        log.info("connector stopping", connector=self._name)

    async def _poll_ahead(self, wait: float) -> None:
        """Poll into the buffer, up to one batch. While it is full every partition is paused
        (backpressure): a batch that takes long (an open breaker) stops consumption.

        The records are added once the poll returned: a revocation inside the poll purges
        the buffer, and what that poll returns comes from the new assignment."""
        room = self._ahead.room
        if room > 0:
            fetched = await self._consumer.consume(room, wait)
            self._ahead.add(fetched)
            return
        if not self._throttled:
            self._throttled = True
            await self._consumer.pause(self._consumer.assigned)
        fetched = await self._consumer.consume(1, 0)  # serves callbacks; fetches nothing
        self._ahead.add(fetched)

    async def _paused_by_operator(self) -> bool:
        """While an operator's pause holds: every partition paused (a fresh assignment
        starts unpaused, so each time), callbacks served, nothing delivered."""
        if self._control is None:
            return False
        if await self._control.refresh(len(self._consumer.assigned)):
            if not self._operator_paused:
                log.info("connector paused by an operator", connector=self._name)
            self._operator_paused = True
            await self._consumer.pause(self._consumer.assigned)
            wait = min(1.0, self._s.config.poll_timeout_seconds)
            self._ahead.add(await self._consumer.consume(1, wait))  # kept for the resume
            await self._export_lag(fresh=True)
            return True
        if self._operator_paused:
            self._operator_paused = self._throttled = False
            await self._consumer.resume(self._consumer.assigned - self._held.keys())
            log.info("connector resumed by an operator", connector=self._name)
        return False

    async def _unthrottle(self) -> None:
        if self._throttled:
            self._throttled = False
            await self._consumer.resume(self._consumer.assigned - self._held.keys())

    # --- intake: decode, and hold back retry records that are not due -------------------

    async def _intake(self, messages: Iterable[Message]) -> list[Inbound]:
        items: list[Inbound] = []
        blocked: set[TP] = set()
        now = time.time()
        for msg in messages:
            if msg.error() is not None:
                log.warning("consumer error", connector=self._name, error=str(msg.error()))
                continue
            record = SourceRecord.from_message(msg)
            tp = (record.topic, record.partition)
            if tp in blocked or tp not in self._consumer.assigned:
                continue  # re-read after the rewind below, or no longer ours
            item = Inbound.decode(record, self._retry_topics)
            wake = wake_ms(record.headers) if item.retry is not None else None
            if wake is not None and wake / 1000 > now:
                blocked.add(tp)
                await self._hold(tp, record.offset, wake / 1000)
                continue
            items.append(item)
        return items

    async def _hold(self, tp: TP, offset: int, due: float) -> None:
        await self._consumer.pause([tp])
        await self._consumer.rewind(tp, offset)
        self._held[tp] = due

    async def _resume_due(self) -> None:
        now = time.time()
        due = [tp for tp, when in self._held.items() if when <= now]
        for tp in due:
            del self._held[tp]
        await self._consumer.resume(tp for tp in due if tp in self._consumer.assigned)

    def _poll_timeout(self) -> float:
        timeout = self._s.config.poll_timeout_seconds
        if self._held:
            timeout = min(timeout, max(0.0, min(self._held.values()) - time.time()))
        return timeout

    # --- one batch -----------------------------------------------------------------------

    async def _run_batch(self, items: list[Inbound], stop: asyncio.Event) -> None:
        started = datetime.now(UTC)
        tracker = self._tracker = OffsetTracker(
            ((i.record.topic, i.record.partition), i.record.offset) for i in items
        )
        self._abandoned = False
        task = self._batch = asyncio.create_task(self._deliver_all(items, tracker))
        await self._wait_keeping_alive(task, stop, tracker)
        await self._unthrottle()
        if self._abandoned:
            return  # rebalanced: committed in the revoke callback, the batch is gone
        await self._consumer.commit(tracker.committable())
        if task.cancelled():
            return  # stopped in mid-batch: the rest is delivered after the restart
        error = task.exception()
        counts = task.result() if error is None else Counter()
        await self._finish_batch(items, counts, error, started)
        if error is not None:
            raise error

    async def _deliver_all(self, items: list[Inbound], tracker: OffsetTracker) -> Counter[Outcome]:
        cache = await self._s.states.load({i.key for i in items if i.event is not None})
        groups: dict[str, list[Inbound]] = defaultdict(list)
        for item in items:
            groups[item.key].append(item)
        counts: Counter[Outcome] = Counter()

        async def deliver_group(group: list[Inbound]) -> None:
            for item in group:
                outcome = await self._deliverer.deliver(item, cache)
                tracker.done((item.record.topic, item.record.partition), item.record.offset)
                counts[outcome] += 1
                self._delivered[outcome].inc()

        async with asyncio.TaskGroup() as group_tasks:
            for group in groups.values():
                group_tasks.create_task(deliver_group(group))
        return counts

    async def _wait_keeping_alive(
        self, task: asyncio.Task[Counter[Outcome]], stop: asyncio.Event, tracker: OffsetTracker
    ) -> None:
        """Wait for the batch, polling (into the buffer) and committing progress."""
        deadline: float | None = None
        while not task.done():
            await asyncio.wait({task}, timeout=KEEPALIVE_SECONDS)
            if task.done() or self._abandoned:
                break
            await self._poll_ahead(0)
            if self._abandoned:
                break  # a rebalance happened inside that poll
            await self._consumer.commit(tracker.committable())
            await self._export_lag()
            if self._control is not None:  # the heartbeat; a pause applies after the batch
                await self._control.refresh(len(self._consumer.assigned))
            if stop.is_set():
                deadline = deadline or time.monotonic() + self._grace
                if time.monotonic() > deadline:
                    task.cancel()
                    await asyncio.wait({task})

    async def _finish_batch(
        self,
        items: list[Inbound],
        counts: Counter[Outcome],
        error: BaseException | None,
        started: datetime,
    ) -> None:
        outcome = batch_outcome(counts, error)
        self._s.metrics.batches.labels(self._name, outcome).inc()
        self._failed_batches = self._failed_batches + 1 if outcome == "failed" else 0
        self._s.metrics.failed_batches_in_a_row.labels(self._name).set(self._failed_batches)
        run = BatchRun(
            sources=tuple(sorted({i.event.source for i in items if i.event is not None})),
            destination=self._s.config.destination.type,
            started_at=started,
            finished_at=datetime.now(UTC),
            record_count=len(items),
            outcome=outcome,
            counts={o.value: n for o, n in counts.items()},
            topics=tuple(sorted({i.record.topic for i in items})),
        )
        # Written while the next batch is delivered (its offsets are committed already, so
        # it waits for nothing); one at a time, so rows never pile up behind a slow database.
        if self._sync_log is not None:
            await self._sync_log
        self._sync_log = asyncio.create_task(self._record(run))
        if self._failed_batches == FAILED_BATCHES_ALERT:
            summary = f"{self._name}: {FAILED_BATCHES_ALERT} batches in a row failed"
            details = {"last_counts": str(run.counts), "error": str(error) if error else None}
            await self._s.alerter.alert(Alert(self._name, "batches_failing", summary, details))

    async def _record(self, run: BatchRun) -> None:
        try:
            await self._s.states.record_batch(run)
        except Exception:
            log.exception("sync log write failed", connector=self._name)

    async def flush_sync_log(self) -> None:
        """Wait for the last batch's ``sync_runs`` row (before the runner returns)."""
        if self._sync_log is not None:
            await self._sync_log

    # --- rebalance callbacks (run on the consumer thread) ----------------------------------

    def _on_assign(self, tps: list[TP]) -> None:
        for tp in tps:
            self._held.pop(tp, None)  # a fresh assignment is not paused
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self.assigned.set)

    def _on_revoke(self, tps: list[TP]) -> list[TopicPartition]:
        """Cancel the batch, wait for it, and return the offsets to commit before the
        partitions go to another instance."""
        gone = set(tps)
        for tp in gone:
            self._held.pop(tp, None)
        # The next owner reads them from the committed offset: so do we, if they come back.
        self._ahead.purge(gone)
        batch, loop = self._batch, self._loop
        if batch is not None and not batch.done() and loop is not None:
            log.info("batch abandoned for a rebalance", connector=self._name)
            self._abandoned = True
            future = asyncio.run_coroutine_threadsafe(_cancel(batch), loop)
            try:
                future.result(_REVOKE_TIMEOUT_SECONDS)
            except Exception:
                log.exception("batch did not stop for a rebalance", connector=self._name)
        log.info("partitions revoked", connector=self._name, partitions=len(tps))
        return self._tracker.committable(tps) if self._tracker else []

    async def _export_lag(self, *, fresh: bool = False) -> None:
        if time.monotonic() < self._next_lag:
            return
        self._next_lag = time.monotonic() + self._s.config.lag_interval_seconds
        lag = await self._consumer.lag(fresh)
        if self._control is not None:  # retry topics hold records on purpose: not lag
            self._control.lag = sum(
                lag.get(self._s.topics.events(f), 0) for f in self._s.config.families
            )
        for topic in self.topics():
            self._s.metrics.consumer_lag.labels(self._name, topic).set(lag.get(topic, 0))


async def _cancel(task: asyncio.Task[Counter[Outcome]]) -> None:
    task.cancel()
    await asyncio.wait({task})


def batch_outcome(counts: Counter[Outcome], error: BaseException | None) -> str:
    """``ok``: every record settled; ``partial``: some retried or dead-lettered;
    ``failed``: none settled, or the batch itself failed."""
    if error is not None:
        return "failed"
    unsettled = counts[Outcome.RETRIED] + counts[Outcome.DEAD_LETTERED]
    if not unsettled:
        return "ok"
    return "partial" if any(counts[o] for o in SETTLED) else "failed"
