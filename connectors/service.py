"""Building and supervising connector instances.

:func:`open_connector` builds one connector's resources (its own PostgreSQL pool, Kafka
producer and consumer, HTTP session, breaker, rate-limit bucket) and closes them in the
right order. :func:`supervise` runs it and starts it again when it fails (an outage of
PostgreSQL or Kafka is waited out quietly, a crash is logged with its traceback and
alerted: :mod:`connectors.restarts`);
:func:`run_connectors` runs every configured connector as a task of its own, so a
connector that fails never blocks another one, plus the daily digest's sender when
``connectors.digest_at`` is set (:mod:`hookline.digest`).
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Callable, Mapping
from contextlib import AsyncExitStack, asynccontextmanager, suppress

from psycopg_pool import AsyncConnectionPool

from connectors.alerts import Alert, Alerter, AlertSink, LoggingAlertSink
from connectors.breaker import BreakerGate, BreakerState
from connectors.call_log import CallTally
from connectors.config import ConnectorConfig
from connectors.consumer import AsyncConsumer
from connectors.control import ConnectorControl, instance_name
from connectors.delivery import Services
from connectors.destinations import REGISTRY
from connectors.destinations.base import Destination, DestinationContext, prober_of
from connectors.http import HttpClient
from connectors.metrics import ConnectorMetrics
from connectors.probe import probing
from connectors.ratelimit import TokenBucket
from connectors.restarts import RestartSchedule
from connectors.runner import ConnectorRunner
from connectors.state import StateStore
from connectors.topic_setup import prepare_topics
from hookline.db import create_pool
from hookline.digest import DigestSender, parse_at
from hookline.kafka_clients import AsyncProducer, consumer_config, producer_config
from hookline.lag import LagMonitor, watch_lag
from hookline.logs import get_logger
from hookline.outages import DISPLAY_NAMES, first_error, unavailable_dependency
from hookline.settings import Settings
from hookline.topics import Topics
from hookline.tracing import create_tracer

log = get_logger("hookline.connectors")


@asynccontextmanager
async def open_connector(
    config: ConnectorConfig, settings: Settings, metrics: ConnectorMetrics, alerter: Alerter
) -> AsyncIterator[ConnectorRunner]:
    topics = Topics(settings.kafka.topic_prefix)
    await asyncio.to_thread(prepare_topics, settings, config, topics)
    async with AsyncExitStack() as stack:
        pool = _pool(settings)
        await pool.open(wait=True, timeout=settings.postgres.pool_timeout_seconds)
        stack.push_async_callback(pool.close)
        producer = AsyncProducer(producer_config(settings.kafka, f"connector-{config.name}"))
        stack.push_async_callback(asyncio.to_thread, producer.close)
        services = Services(
            config=config,
            destination=await _destination(config, metrics, stack, pool),
            states=StateStore(pool, config.name),
            limiter=await _bucket(config, pool, metrics),
            gate=_gate(config, metrics, alerter),
            producer=producer,
            topics=topics,
            metrics=metrics,
            alerter=alerter,
            draw=random.random,
            tracer=create_tracer(settings.tracing, f"hookline-connector-{config.name}"),
        )
        consumer = AsyncConsumer(_consumer_config(config, settings), config.name)
        stack.push_async_callback(consumer.close)
        control = ConnectorControl(
            pool,
            config.name,
            instance_name(settings.connectors.instance_id),
            destination=config.destination.type,
            bucket=config.bucket() if config.rate_limit else None,
            gate=services.gate,
        )
        stack.push_async_callback(control.forget)
        interval = config.probe_interval(settings.connectors.probe_interval_seconds)
        prober = prober_of(services.destination)
        timeout = config.destination.timeout_seconds
        await stack.enter_async_context(probing(config.name, prober, metrics, interval, timeout))
        grace = settings.connectors.shutdown_timeout_seconds
        yield ConnectorRunner(services, consumer, grace, control)


async def _destination(
    config: ConnectorConfig,
    metrics: ConnectorMetrics,
    stack: AsyncExitStack,
    pool: AsyncConnectionPool,
) -> Destination:
    spec = REGISTRY[config.destination.type]
    tally = CallTally(pool, config.name)
    stack.push_async_callback(tally.close)
    http = HttpClient(
        config.name,
        metrics,
        timeout_seconds=config.destination.timeout_seconds,
        extra_retriable=spec.extra_retriable,
        max_connections=config.concurrency,
        on_call=tally.record,
    )
    stack.push_async_callback(http.close)
    return spec.create(config.destination, DestinationContext(config.name, http, pool))


def _pool(settings: Settings) -> AsyncConnectionPool:
    """Every statement of the connectors is atomic on its own: autocommit connections."""
    return create_pool(settings.postgres, autocommit=True)


def _consumer_config(config: ConnectorConfig, settings: Settings) -> dict[str, object]:
    group = config.consumer_group(settings.kafka.topic_prefix)
    options = consumer_config(settings.kafka, group, f"connector-{config.name}")
    options["session.timeout.ms"] = config.session_timeout_ms
    # Frequent heartbeats: a rebalance reaches the other instances within a second or two.
    options["heartbeat.interval.ms"] = min(3000, config.session_timeout_ms // 6)
    if settings.connectors.instance_id:
        options["group.instance.id"] = f"{config.name}-{settings.connectors.instance_id}"
    return options


async def _bucket(
    config: ConnectorConfig, pool: AsyncConnectionPool, metrics: ConnectorMetrics
) -> TokenBucket | None:
    if config.rate_limit is None:
        return None
    gauge = metrics.rate_limit_tokens.labels(config.name)
    bucket = TokenBucket(pool, config.bucket(), config.rate_limit, gauge)
    await bucket.ensure()
    return bucket


def _gate(config: ConnectorConfig, metrics: ConnectorMetrics, alerter: Alerter) -> BreakerGate:
    name = config.name
    gauge = metrics.breaker_state.labels(name)
    gauge.set(BreakerState.CLOSED)
    pending: set[asyncio.Task[bool]] = set()

    def on_transition(previous: BreakerState, state: BreakerState, cooldown: float) -> None:
        gauge.set(state)
        log.warning(
            "breaker transition",
            connector=name,
            from_state=previous.name.lower(),
            to_state=state.name.lower(),
            cooldown_seconds=cooldown,
        )
        if state is BreakerState.OPEN:
            summary = f"{name}: destination failing, delivery paused for {cooldown:g} s"
            task = asyncio.get_running_loop().create_task(
                alerter.alert(Alert(name, "breaker_open", summary, {"cooldown": cooldown}))
            )
            pending.add(task)
            task.add_done_callback(pending.discard)

    return BreakerGate(config.breaker, time.monotonic, on_transition)


async def supervise(
    config: ConnectorConfig,
    settings: Settings,
    metrics: ConnectorMetrics,
    alerter: Alerter,
    stop: asyncio.Event,
    *,
    on_start: Callable[[ConnectorRunner], None] | None = None,
) -> None:
    """Run one connector until ``stop``; start it again when it fails: after an outage of
    PostgreSQL or Kafka as soon as they are back, after a crash 1 s … 60 s apart
    (:mod:`connectors.restarts`)."""
    supervisor = _Supervisor(config.name, settings, metrics, alerter)
    try:
        while not stop.is_set():
            try:
                async with open_connector(config, settings, metrics, alerter) as runner:
                    await supervisor.started()
                    if on_start is not None:
                        on_start(runner)
                    await runner.run(stop)
            except Exception as exc:
                delay = await supervisor.failed(exc)
                with suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), delay)
            else:
                return
    finally:
        await supervisor.close()


class _Supervisor:
    """What one connector's failures and restarts tell operators: its log lines, its
    ``running`` and ``restarts`` series and the alerts (a crash at once; an outage once it
    has lasted ``outage_alert_after_seconds``, and its end)."""

    def __init__(
        self, name: str, settings: Settings, metrics: ConnectorMetrics, alerter: Alerter
    ) -> None:
        self._name = name
        self._alert_after = settings.connectors.outage_alert_after_seconds
        self._schedule = RestartSchedule(time.monotonic)
        self._metrics = metrics
        self._alerter = alerter
        self._running = metrics.running.labels(name)
        self._outage_alert: asyncio.Task[None] | None = None
        metrics.supervising(name)

    async def started(self) -> None:
        self._running.set(1)
        await self._cancel_outage_alert()
        outage = self._schedule.started()
        if outage is None:
            return
        took = time.monotonic() - outage.since
        log.info(
            "connector resumed",
            connector=self._name,
            dependency=outage.dependency,
            after_s=round(took, 1),
        )
        if self._schedule.take_recovery_alert():
            name = DISPLAY_NAMES[outage.dependency]
            summary = f"{self._name}: {name} reachable again after {took:.0f} s"
            await self._alerter.alert(Alert(self._name, "dependency_recovered", summary))

    async def failed(self, exc: Exception) -> float:
        """Log, count and alert one failed run; the pause before the next."""
        self._running.set(0)
        dependency = unavailable_dependency(exc)
        delay = self._schedule.failed(dependency)
        self._metrics.restarts.labels(self._name, dependency or "error").inc()
        if dependency is None:
            log.exception("connector failed", connector=self._name, restart_in=delay)
            summary = f"{self._name}: connector failed, restarting in {delay:g} s"
            await self._alerter.alert(Alert(self._name, "crashed", summary, {"error": str(exc)}))
            return delay
        # An outage is not a defect of ours: one line, no traceback.
        error = first_error(exc)
        log.warning(
            "connector waiting for a dependency",
            connector=self._name,
            dependency=dependency,
            error=error,
            restart_in=delay,
            outage_s=round(self._schedule.outage_seconds(), 1),
        )
        if self._outage_alert is None:
            alert = self._alert_if_outage_lasts(dependency, error)
            self._outage_alert = asyncio.create_task(alert)
        return delay

    async def _alert_if_outage_lasts(self, dependency: str, error: str) -> None:
        # A task, not a check at the next failure: a run may wait for its dependency far
        # longer than the pause between runs (the pool's timeout, Kafka's).
        await asyncio.sleep(max(0.0, self._alert_after - self._schedule.outage_seconds()))
        if self._schedule.take_outage_alert():
            seconds = self._schedule.outage_seconds()
            summary = (
                f"{self._name}: {DISPLAY_NAMES[dependency]} unreachable for {seconds:.0f} s; "
                "delivery is paused and resumes by itself, nothing is lost"
            )
            alert = Alert(self._name, "dependency_unavailable", summary, {"error": error})
            await self._alerter.alert(alert)

    async def _cancel_outage_alert(self) -> None:
        """Cancel the outage's alert unless it is being sent: then let it go out first, so
        that its recovery alert never comes before it."""
        task, self._outage_alert = self._outage_alert, None
        if task is None:
            return
        if not self._schedule.outage_alerted:
            task.cancel()
        with suppress(asyncio.CancelledError):
            await task

    async def close(self) -> None:
        self._running.set(0)
        await self._cancel_outage_alert()


async def run_connectors(
    settings: Settings,
    configs: Mapping[str, ConnectorConfig],
    metrics: ConnectorMetrics,
    stop: asyncio.Event,
    sink: AlertSink | None = None,
) -> None:
    """Every connector in a task of its own, until ``stop`` is set."""
    sink = sink or LoggingAlertSink()
    alerter = Alerter(sink, metrics, settings.connectors.alert_min_interval_seconds)
    async with asyncio.TaskGroup() as group:
        if settings.connectors.digest_at:
            group.create_task(_send_digests(settings, sink, stop))
        for config in configs.values():
            group.create_task(supervise(config, settings, metrics, alerter, stop))
            if settings.kafka.lag_interval_seconds > 0:
                group.create_task(_watch_lag(config, settings, metrics, stop))


async def _send_digests(settings: Settings, sink: AlertSink, stop: asyncio.Event) -> None:
    """The daily digest at ``connectors.digest_at``, once a day across instances."""
    pool = _pool(settings)
    await pool.open(wait=False)  # a database away at start is retried by each check
    try:
        at = parse_at(settings.connectors.digest_at)
        instance = instance_name(settings.connectors.instance_id)
        await DigestSender(pool, sink, at, instance).run(stop)
    finally:
        await pool.close()


async def _watch_lag(
    config: ConnectorConfig, settings: Settings, metrics: ConnectorMetrics, stop: asyncio.Event
) -> None:
    """The connector's group lag on its event topics (its retry topics hold records on
    purpose), measured apart from the runner: also while it is paused or restarting."""
    topics = Topics(settings.kafka.topic_prefix)
    group = config.consumer_group(settings.kafka.topic_prefix)
    events = [topics.events(f) for f in config.families]
    monitor = LagMonitor(settings.kafka, group, events, metrics.lag)
    await watch_lag(monitor, settings.kafka.lag_interval_seconds, stop)
