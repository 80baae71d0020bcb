"""Runs the admin API in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

from aiohttp import web

from admin.app import create_app
from hookline.logs import configure_logging, get_logger
from hookline.settings import Settings


def run(settings: Settings) -> None:
    configure_logging(settings.log)
    try:
        app = create_app(settings)
    except ValueError as exc:  # a configuration error (e.g. no jwt_secret): one line
        raise SystemExit(f"hookline admin: {exc}") from None
    get_logger("hookline.admin").info("admin API starting", port=settings.admin.port)
    web.run_app(
        app, host=settings.admin.host, port=settings.admin.port, access_log=None, print=None
    )
