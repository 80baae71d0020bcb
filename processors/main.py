"""Runs the processor worker in the foreground until SIGINT/SIGTERM."""

from __future__ import annotations

import faust

from hookline.kafka_clients import KafkaAuthenticationError, check_credentials
from hookline.logs import configure_logging, get_logger
from hookline.metrics import new_registry
from hookline.runtime import tune_garbage_collector
from hookline.settings import Settings
from processors.app import create_app
from processors.lag import export_lag


def run(settings: Settings) -> None:
    """Run the worker; exit 1 at once when Kafka refuses the credentials (faust would
    report it with a traceback)."""
    configure_logging(settings.log)
    try:
        check_credentials(settings.kafka)
    except KafkaAuthenticationError as exc:
        get_logger("hookline.processors").error("cannot start", error=str(exc))
        raise SystemExit(1) from None
    registry = new_registry()
    app = create_app(settings, registry=registry)
    export_lag(app, settings, registry)
    # Our logging stays (every line JSON, hookline.logs): faust would install its own
    # handlers and formats; quiet: no banner printed to stdout.
    worker = faust.Worker(
        app,
        loglevel=settings.log.level.lower(),
        redirect_stdouts=False,
        override_logging=False,
        quiet=True,
    )
    # faust's terminal spinner, at WARNING and above, sets the root logger to DEBUG so that
    # it can spin on every record: about 16% more CPU per record. We log, not spin.
    worker.spinner = None
    tune_garbage_collector()
    worker.execute_from_commandline()
