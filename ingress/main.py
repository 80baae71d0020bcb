"""Runs the ingress: one process, or several sharing the port (SO_REUSEPORT)."""

from __future__ import annotations

import gc
import multiprocessing
import os
import signal

import uvloop
from aiohttp import web

from hookline.logs import configure_logging, get_logger
from hookline.settings import Settings
from ingress.app import create_app
from ingress.sources import load_sources


def serve(settings: Settings) -> None:
    """Serve in this process until SIGINT/SIGTERM; then stop accepting, flush, exit."""
    configure_logging(settings.log)
    sources = load_sources(settings.ingress.sources_file, settings.secrets)
    app = create_app(settings, sources)
    app.on_startup.append(_tune_garbage_collector)
    get_logger("hookline.ingress").info(
        "ingress starting", port=settings.ingress.port, sources=sorted(sources), pid=os.getpid()
    )
    web.run_app(
        app,
        host=settings.ingress.host,
        port=settings.ingress.port,
        reuse_port=settings.ingress.workers > 1,
        shutdown_timeout=settings.ingress.shutdown_timeout_seconds,
        access_log=None,
        print=None,
        handle_signals=True,
        loop=uvloop.new_event_loop(),
    )


async def _tune_garbage_collector(_app: web.Application) -> None:
    """Requests allocate many short-lived objects and no reference cycles of note; the
    default thresholds ran a collection every few requests (about 8% of CPU under load).
    Objects alive after start-up are frozen out of collections altogether."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)


def run(settings: Settings) -> None:
    """Start ``settings.ingress.workers`` processes on one port and wait for them. An
    invalid sources file (a missing secret) stops it here, before any worker starts."""
    load_sources(settings.ingress.sources_file, settings.secrets)
    if settings.ingress.workers == 1:
        serve(settings)
        return
    context = multiprocessing.get_context("spawn")
    workers = [
        context.Process(target=serve, args=(settings,), name=f"ingress-{i}")
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
