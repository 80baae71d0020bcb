"""Runs the connectors (``hookline connectors`` or ``python -m connectors``).

Runs every connector of the connectors file (or the named ones) in this process, each in
a task of its own, with ``/metrics`` and ``/healthz`` on ``settings.connectors.metrics_port``.
SIGTERM or SIGINT stops them: the batch in progress gets the shutdown grace period, what is
durable is committed, the rest is delivered again after the restart.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Mapping, Sequence

from aiohttp import web

from connectors.alerts import TelegramAlertConfig, TelegramAlertSink, load_alerts
from connectors.config import ConnectorConfig, load_connectors
from connectors.errors import ConfigError
from connectors.metrics import ConnectorMetrics
from connectors.service import run_connectors
from hookline.kafka_clients import KafkaAuthenticationError, check_credentials
from hookline.logs import configure_logging, get_logger
from hookline.metrics import metrics_handler, new_registry
from hookline.runtime import tune_garbage_collector
from hookline.settings import Settings

log = get_logger("hookline.connectors")


def select(
    configs: Mapping[str, ConnectorConfig], names: Sequence[str]
) -> dict[str, ConnectorConfig]:
    unknown = sorted(set(names) - set(configs))
    if unknown:
        raise ConfigError(f"unknown connectors {unknown}; configured: {sorted(configs)}")
    return {n: c for n, c in configs.items() if not names or n in names}


async def serve(
    settings: Settings,
    configs: Mapping[str, ConnectorConfig],
    alerts: TelegramAlertConfig | None = None,
) -> None:
    """Run the connectors until SIGTERM/SIGINT; alerts go to Telegram when ``alerts`` is
    set, else to the log."""
    registry = new_registry()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    runner = await _metrics_site(settings, registry)
    log.info("connectors starting", connectors=sorted(configs))
    secrets = [s.get_secret_value() for s in settings.secrets.values()]
    sink = TelegramAlertSink(alerts, secrets) if alerts is not None else None
    try:
        await run_connectors(settings, configs, ConnectorMetrics(registry), stop, sink)
    finally:
        if sink is not None:
            await sink.close()
        if runner is not None:
            await runner.cleanup()


async def _metrics_site(settings: Settings, registry: object) -> web.AppRunner | None:
    if settings.connectors.metrics_port == 0:
        return None
    app = web.Application()
    app.router.add_get("/metrics", metrics_handler(registry))  # type: ignore[arg-type]
    app.router.add_get("/healthz", _healthz)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, settings.connectors.metrics_host, settings.connectors.metrics_port)
    await site.start()
    return runner


async def _healthz(_request: web.Request) -> web.Response:
    return web.json_response({"status": "alive"})


def run(settings: Settings, only: Sequence[str] = ()) -> None:
    """Run the connectors of ``settings.connectors.config_file`` (or only the named ones)
    until SIGTERM/SIGINT; exit 1 at once when Kafka refuses the credentials."""
    configure_logging(settings.log)
    configs = load_connectors(settings.connectors.config_file, settings.secrets)
    alerts = load_alerts(settings.connectors.config_file, settings.secrets)
    try:
        # A refused login is configuration, not an outage: the restarts with backoff
        # (service.supervise) would retry it forever.
        check_credentials(settings.kafka)
    except KafkaAuthenticationError as exc:
        log.error("cannot start", error=str(exc))  # noqa: TRY400 - one line, no traceback
        raise SystemExit(1) from None
    tune_garbage_collector()
    asyncio.run(serve(settings, select(configs, only), alerts))
