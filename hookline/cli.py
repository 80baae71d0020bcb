"""The ``hookline`` command: the composition root that starts Hookline's services.

This is the one module of the shared package that imports the services, lazily, inside
the command that runs each.
"""

from __future__ import annotations

import typer

from hookline.db import apply_migrations
from hookline.kafka_clients import ensure_topics
from hookline.logs import configure_logging, get_logger
from hookline.settings import Settings
from hookline.topics import Topics

app = typer.Typer(
    help="Hookline: webhooks into Kafka, normalised, delivered.", no_args_is_help=True
)


@app.command("setup")
def setup() -> None:
    """Create the Kafka topics and apply the PostgreSQL migrations (both idempotent)."""
    settings = Settings()
    configure_logging(settings.log)
    log = get_logger("hookline.setup")
    topics = Topics(settings.kafka.topic_prefix)
    created = ensure_topics(settings.kafka, topics.core(settings.kafka.default_partitions))
    log.info("topics ready", created=created)
    applied = apply_migrations(settings.postgres.conninfo())
    log.info("migrations applied", versions=applied)


@app.command("ingress")
def ingress() -> None:
    """Run the webhook ingress HTTP service."""
    from ingress.main import run

    run(Settings())


def main() -> None:
    app()


if __name__ == "__main__":
    main()
