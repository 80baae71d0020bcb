"""Runs the scheduled pollers and reconciliation (``hookline pollers`` or ``python -m
pollers``), backfills (``hookline backfill``) and one reconciliation (``hookline
reconcile``).

Alerts (three failed runs in a row, :mod:`pollers.synclog`) go to the sink the pollers
file's ``[alerts]`` table names (the connectors file's table, :mod:`hookline.alerts`:
Telegram), else to the log; what is queued for Telegram is sent before the command ends.

SIGTERM or SIGINT stops the pollers: a page in progress is abandoned before its cursor
commit, so the next holder reads it again (its records deduped by key); leases are
released so another instance takes over at once.
"""

from __future__ import annotations

import asyncio
import signal
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from datetime import datetime

from aiohttp import web
from prometheus_client import CollectorRegistry

from hookline.alerts import AlertSink, TelegramAlertConfig, TelegramAlertSink, load_alerts
from hookline.logs import configure_logging, get_logger
from hookline.metrics import metrics_handler, new_registry
from hookline.settings import Settings
from pollers.config import PollerConfig, load_pollers
from pollers.reconcile.config import ReconcileConfig, load_reconcile
from pollers.reconcile.runner import PairResult
from pollers.runner import Progress
from pollers.service import open_service

log = get_logger("hookline.pollers")


def configured(settings: Settings) -> dict[str, PollerConfig]:
    return load_pollers(settings.pollers.config_file, settings.secrets)


def reconciliation(settings: Settings) -> ReconcileConfig | None:
    return load_reconcile(settings.pollers.config_file, settings.secrets)


def alerting(settings: Settings) -> TelegramAlertConfig | None:
    """The pollers file's ``[alerts]`` table; None: alerts go to the log."""
    return load_alerts(settings.pollers.config_file, settings.secrets)


@asynccontextmanager
async def alert_sink(
    settings: Settings, config: TelegramAlertConfig | None
) -> AsyncIterator[AlertSink | None]:
    """The Telegram sink of ``config`` (None without one: the service logs alerts); what
    it queued is sent (within its grace time) on exit."""
    if config is None:
        yield None
        return
    secrets = [s.get_secret_value() for s in settings.secrets.values()]
    sink = TelegramAlertSink(config, secrets)
    try:
        yield sink
    finally:
        await sink.close()


def run(settings: Settings) -> None:
    configure_logging(settings.log)
    configs, reconcile = configured(settings), reconciliation(settings)
    asyncio.run(serve(settings, configs, reconcile, alerting(settings)))


async def serve(
    settings: Settings,
    configs: dict[str, PollerConfig],
    reconcile: ReconcileConfig | None = None,
    alerts: TelegramAlertConfig | None = None,
) -> None:
    """Run until SIGTERM or SIGINT."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    await serve_until(stop, settings, configs, reconcile, alerts)


async def serve_until(
    stop: asyncio.Event,
    settings: Settings,
    configs: dict[str, PollerConfig],
    reconcile: ReconcileConfig | None = None,
    alerts: TelegramAlertConfig | None = None,
) -> None:
    """Poll (and reconcile) on schedule, alerting through ``alerts``, until ``stop``."""
    log.info("pollers starting", pollers=sorted(configs), reconcile=reconcile is not None)
    registry = new_registry()
    site = await _metrics_site(settings, registry)
    try:
        async with (
            alert_sink(settings, alerts) as sink,
            open_service(
                settings, configs, registry=registry, reconcile=reconcile, sink=sink
            ) as service,
        ):
            await service.run_scheduled(stop)
    finally:
        if site is not None:
            await site.cleanup()


async def _metrics_site(settings: Settings, registry: CollectorRegistry) -> web.AppRunner | None:
    """``/metrics`` on ``settings.pollers.metrics_port`` (0: none)."""
    if settings.pollers.metrics_port == 0:
        return None
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(registry))
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.pollers.metrics_host, settings.pollers.metrics_port).start()
    return runner


def backfill(
    settings: Settings, name: str, since: datetime | None, echo: Callable[[str], None]
) -> Progress:
    """Backfill poller ``name``; ``echo`` gets a progress line after every page."""
    configs = configured(settings)
    if name not in configs:
        raise KeyError(f"unknown poller {name!r}; configured: {sorted(configs)}")
    meter = ProgressLine(since, echo)

    async def go() -> Progress:
        async with (
            alert_sink(settings, alerting(settings)) as sink,
            open_service(settings, {name: configs[name]}, sink=sink) as service,
        ):
            return await service.backfill(name, since, meter)

    return asyncio.run(go())


def reconcile(settings: Settings, repair: bool) -> list[PairResult]:
    """One reconciliation of the pollers file's ``[reconcile]`` table, now (no lease: an
    operator's run may overlap a scheduled one; both only read, and repairs are
    idempotent)."""
    config = reconciliation(settings)
    if config is None:
        raise KeyError("the pollers file has no [reconcile] table")

    async def go() -> list[PairResult]:
        async with (
            alert_sink(settings, alerting(settings)) as sink,
            open_service(settings, {}, reconcile=config, sink=sink) as service,
        ):
            return await service.reconcile(repair)

    return asyncio.run(go())


class ProgressLine:
    """``records 12,400 (emitted 310) · 820/s · at 2024-03-01 · ETA 0:02:10``: the ETA
    extrapolates how fast the walk's position moves towards now (APIs give no totals)."""

    def __init__(self, since: datetime | None, echo: Callable[[str], None]) -> None:
        self._echo = echo
        self._started = time.monotonic()
        self._origin = since

    def __call__(self, progress: Progress) -> None:
        elapsed = max(time.monotonic() - self._started, 1e-6)
        rate = progress.seen / elapsed
        line = f"records {progress.seen:,} (emitted {progress.emitted:,}) · {rate:,.0f}/s"
        if progress.finished:
            self._echo(f"{line} · done in {elapsed:,.1f} s")
            return
        if progress.position is not None:
            line += f" · at {progress.position:%Y-%m-%d %H:%M}"
            if self._origin is None:
                self._origin = progress.position
            eta = _eta(self._origin, progress.position, elapsed)
            if eta is not None:
                line += f" · ETA {eta:,.0f} s"
        self._echo(line)


def _eta(origin: datetime, position: datetime, elapsed: float) -> float | None:
    done = (position - origin).total_seconds()
    left = (datetime.now(position.tzinfo) - position).total_seconds()
    return elapsed * left / done if done > 0 else None
