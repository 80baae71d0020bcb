"""Runs the ingress: one process, or several sharing the port (SO_REUSEPORT)."""

from __future__ import annotations

import multiprocessing
import os
import signal

from aiohttp import web

from hookline.logs import configure_logging, get_logger
from hookline.settings import Settings
from ingress.app import create_app
from ingress.sources import load_sources


def serve(settings: Settings) -> None:
    """Serve in this process until SIGINT/SIGTERM; then stop accepting, flush, exit."""
    configure_logging(settings.log)
    sources = load_sources(settings.ingress.sources_file, os.environ)
    app = create_app(settings, sources)
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
    )


def run(settings: Settings) -> None:
    """Start ``settings.ingress.workers`` processes on one port and wait for them."""
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
