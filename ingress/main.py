"""Runs the ingress: one process, or several sharing the port (SO_REUSEPORT)."""

from __future__ import annotations

import asyncio
import contextlib
import multiprocessing
import os
import signal

import uvloop
from aiohttp import web

from hookline.logs import configure_logging, get_logger
from hookline.runtime import tune_garbage_collector
from hookline.settings import IngressSettings, Settings
from ingress.app import METRICS, METRICS_REGISTRY, create_app, create_metrics_app
from ingress.connections import ConnectionLimit
from ingress.sources import load_sources
from ingress.startup import StartupError, check_startup


def serve(settings: Settings, worker: int = 0) -> None:
    """Serve in this process until SIGINT/SIGTERM; then stop accepting, flush, exit.
    ``worker`` (0 to N-1) picks this process's metrics port."""
    configure_logging(settings.log)
    sources = load_sources(settings.ingress.sources_file, settings.secrets)
    app = create_app(settings, sources)
    app.on_startup.append(_tune_garbage_collector)
    get_logger("hookline.ingress").info(
        "ingress starting",
        port=settings.ingress.port,
        metrics_port=settings.ingress.metrics_port and settings.ingress.metrics_port + worker,
        sources=sorted(sources),
        pid=os.getpid(),
    )
    # SIGINT/SIGTERM raise GracefulExit (AppRunner's signal handlers); leaving the Runner
    # cancels _serve, whose cleanup stops accepting and drains in-flight requests.
    with (
        asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner,
        contextlib.suppress(web.GracefulExit, KeyboardInterrupt),
    ):
        runner.run(_serve(app, settings.ingress, worker))


async def _serve(app: web.Application, settings: IngressSettings, worker: int) -> None:
    """What ``web.run_app`` does, with the public port served through a ConnectionLimit:
    aiohttp's sites cannot wrap its protocol factory, asyncio's create_server can."""
    runner = web.AppRunner(
        app,
        handle_signals=True,
        access_log=None,
        shutdown_timeout=settings.shutdown_timeout_seconds,
    )
    await runner.setup()
    limit = ConnectionLimit(
        _protocol_factory(runner), settings.max_connections, app[METRICS].connections_refused.inc
    )
    app[METRICS].watch_connections(lambda: limit.open)
    server = await asyncio.get_running_loop().create_server(
        limit, settings.host, settings.port, reuse_port=settings.workers > 1
    )
    metrics = await _serve_metrics(app, settings, worker)
    try:
        await asyncio.Event().wait()  # until cancelled on SIGINT/SIGTERM
    finally:
        server.close()
        await runner.cleanup()
        if metrics is not None:
            await metrics.cleanup()


async def _serve_metrics(
    app: web.Application, settings: IngressSettings, worker: int
) -> web.AppRunner | None:
    """``/metrics`` on the internal listener, one port per worker (``metrics_port + i``):
    each worker process has its own registry, and SO_REUSEPORT would hand each scrape to
    a random one."""
    if settings.metrics_port == 0:
        return None
    runner = web.AppRunner(create_metrics_app(app[METRICS_REGISTRY]), access_log=None)
    await runner.setup()
    await web.TCPSite(runner, settings.metrics_host, settings.metrics_port + worker).start()
    return runner


def _protocol_factory(runner: web.AppRunner) -> web.Server:
    if runner.server is None:
        raise RuntimeError("the runner is not set up")
    return runner.server


async def _tune_garbage_collector(_app: web.Application) -> None:
    tune_garbage_collector()  # once the app and its producer exist: they are frozen too


def run(settings: Settings) -> None:
    """Start ``settings.ingress.workers`` processes on one port and wait for them. An
    invalid sources file (a missing secret) stops it here, before any worker starts; so
    do refused Kafka credentials and body limits Kafka cannot take (exit 1, one log line,
    see :mod:`ingress.startup`)."""
    sources = load_sources(settings.ingress.sources_file, settings.secrets)
    configure_logging(settings.log)
    try:
        check_startup(settings, sources)
    except StartupError as exc:
        get_logger("hookline.ingress").error("cannot start", error=str(exc))
        raise SystemExit(1) from None
    if settings.ingress.workers == 1:
        serve(settings)
        return
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=serve, args=(settings, i), name=f"ingress-{i}")
        for i in range(settings.ingress.workers)
    ]
    for worker in workers:
        worker.start()

    def forward(signum: int, _frame: object) -> None:
        for worker in workers:
            if worker.pid:
                os.kill(worker.pid, signum)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    for worker in workers:
        worker.join()
    if any(worker.exitcode for worker in workers):
        raise SystemExit(1)
