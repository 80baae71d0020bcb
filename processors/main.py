"""Runs the processor worker in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import faust

from hookline.logs import configure_logging
from hookline.settings import Settings
from processors.app import create_app


def run(settings: Settings) -> None:
    configure_logging(settings.log)
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=settings.log.level.lower(), redirect_stdouts=False)
    # faust's terminal spinner, at WARNING and above, sets the root logger to DEBUG so that
    # it can spin on every record: about 16% more CPU per record. We log, not spin.
    worker.spinner = None
    worker.execute_from_commandline()
