"""The ``hookline`` command: the composition root that starts Hookline's services.

The composition root: it imports the services lazily, inside the command that runs each,
so that ``hookline ingress`` never loads faust, for example.
"""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Literal

import typer

from hookline.config_files import ConfigFileError
from hookline.db import apply_migrations
from hookline.kafka_clients import KafkaAuthenticationError, ensure_topics
from hookline.logs import configure_logging, get_logger
from hookline.settings import Settings
from hookline.topics import Topics

if TYPE_CHECKING:
    from hookline.replay import ReplayReport

app = typer.Typer(
    help="Hookline: webhooks into Kafka, normalised, delivered.",
    no_args_is_help=True,
    # A traceback's local variables may hold resolved secrets: never print them.
    pretty_exceptions_show_locals=False,
)


@app.command("setup")
def setup() -> None:
    """Create the Kafka topics and apply the PostgreSQL migrations (both idempotent)."""
    settings = Settings()
    configure_logging(settings.log)
    log = get_logger("hookline.setup")
    topics = Topics(settings.kafka.topic_prefix)
    try:
        created = ensure_topics(settings.kafka, topics.core(settings.kafka.default_partitions))
    except KafkaAuthenticationError as exc:
        # A configuration error: one clear line; a traceback would only add noise.
        log.error("setup failed", error=str(exc))  # noqa: TRY400
        raise typer.Exit(1) from None
    log.info("topics ready", created=created)
    log.info("connector topics ready", created=_create_connector_topics(settings, topics))
    applied = apply_migrations(settings.postgres.conninfo())
    log.info("migrations applied", versions=applied)


def _create_connector_topics(settings: Settings, topics: Topics) -> list[str]:
    """Every connector's retry and dead-letter topics (connectors/topic_setup.py), so its
    first start finds them; none without a connectors file (the service creates them)."""
    from connectors.config import load_connector_topics
    from connectors.topic_setup import prepare_topics

    path = settings.connectors.config_file
    if not path.is_file():
        get_logger("hookline.setup").info("no connectors file", path=str(path))
        return []
    configs = load_connector_topics(path)
    return [name for c in configs for name in prepare_topics(settings, c, topics)]


@app.command("ingress")
def ingress() -> None:
    """Run the webhook ingress HTTP service."""
    from ingress.main import run

    run(Settings())


admin_app = typer.Typer(help="The operators' admin REST API (docs/admin-api.md).")
app.add_typer(admin_app, name="admin")
RoleOption = Annotated[str, typer.Option(help="viewer, operator or admin.")]


@admin_app.callback(invoke_without_command=True)
def admin(ctx: typer.Context) -> None:
    """Run the admin REST API (and its dead-letter indexer) in the foreground."""
    if ctx.invoked_subcommand is None:
        from admin.main import run as run_admin

        run_admin(Settings())


def _role(role: str) -> Literal["viewer", "operator", "admin"]:
    if role not in ("viewer", "operator", "admin"):
        typer.echo("role must be viewer, operator or admin", err=True)
        raise typer.Exit(2)
    return role  # type: ignore[return-value]


@admin_app.command("create-user")
def admin_create_user(
    username: Annotated[str, typer.Argument(help="The person's sign-in name.")],
    role: RoleOption = "viewer",
) -> None:
    """Create a person who signs in to the admin API (password asked twice, hidden)."""
    from admin.bootstrap import create_user

    password = typer.prompt("password", hide_input=True, confirmation_prompt=True)
    if len(password) < 12:
        typer.echo("the password needs at least 12 characters", err=True)
        raise typer.Exit(2)
    create_user(Settings().postgres.conninfo(), username, password, _role(role))
    typer.echo(f"user {username} created ({role})")


@admin_app.command("create-key")
def admin_create_key(
    name: Annotated[str, typer.Argument(help="What will use the key.")],
    role: RoleOption = "viewer",
    expires_days: Annotated[int | None, typer.Option(min=1, help="Expiry; none: never.")] = None,
) -> None:
    """Create an API key for a service; it is printed once, only its hash is kept."""
    from admin.bootstrap import create_key

    key = create_key(Settings().postgres.conninfo(), name, _role(role), expires_days)
    typer.echo(key)


@app.command("processors")
def processors() -> None:
    """Run the processor worker (dedupe, normalise, fan out)."""
    from processors.main import run

    run(Settings())


@app.command("connectors")
def connectors(
    config: Annotated[Path | None, typer.Option(help="Connectors file.")] = None,
    connector: Annotated[list[str] | None, typer.Option(help="Run only this one.")] = None,
) -> None:
    """Run the connectors of the connectors file."""
    from connectors.main import run as run_connectors

    settings = Settings()
    if config is not None:
        section = settings.connectors.model_copy(update={"config_file": config})
        settings = settings.model_copy(update={"connectors": section})
    run_connectors(settings, connector or ())


@app.command("pollers")
def pollers() -> None:
    """Run the scheduled pollers of the pollers file (one instance polls each source)."""
    from pollers.main import run as run_pollers

    run_pollers(Settings())


@app.command("backfill")
def backfill(
    poller: Annotated[str, typer.Argument(help="Poller name in the pollers file.")],
    since: Annotated[datetime | None, typer.Option(help="Start here (default: all).")] = None,
) -> None:
    """Walk a source's history into the raw topic; resumable, idempotent, throttled."""
    from pollers.main import backfill as run_backfill

    moment = since.replace(tzinfo=UTC) if since and since.tzinfo is None else since
    progress = run_backfill(Settings(), poller, moment, lambda line: typer.echo(line, err=True))
    typer.echo(f"backfill {poller}: {progress.seen} records read, {progress.emitted} emitted")


@app.command("reconcile")
def reconcile(
    repair: Annotated[bool, typer.Option(help="Re-emit what differs from the truth.")] = False,
) -> None:
    """Compare the pollers file's [reconcile] pairs now; exit 1 when a pair failed."""
    from pollers.main import reconcile as run_reconcile

    results = run_reconcile(Settings(), repair)
    for r in results:
        outcome = r.error or f"{len(r.mismatches)} mismatches, {r.repaired} repaired"
        typer.echo(f"{r.pair} {r.family}: {r.compared} compared, {outcome}")
    if any(r.error for r in results):
        raise typer.Exit(1)


@app.command("digest")
def digest(
    day: Annotated[
        datetime | None,
        typer.Option("--date", formats=["%Y-%m-%d"], help="The UTC day; default: yesterday."),
    ] = None,
) -> None:
    """Print the daily digest (API calls, errors, dead letters, sync runs, mismatches)."""
    from hookline.digest import report

    when = day.date() if day else datetime.now(UTC).date() - timedelta(days=1)
    typer.echo(asyncio.run(report(Settings().postgres, when)))


@app.command("demo")
def demo(
    url: Annotated[str, typer.Option(help="The ingress base URL.")] = "http://127.0.0.1:8080",
    rate: Annotated[float, typer.Option(min=0.1, max=50, help="Requests per second.")] = 2.0,
    count: Annotated[int, typer.Option(min=0, help="Requests to send; 0: until Ctrl-C.")] = 0,
) -> None:
    """Send signed sample webhooks to a local ingress (the demo's traffic)."""
    from ingress.sources import load_sources
    from launcher.demo_config import demo_sources_file
    from launcher.demo_traffic import DemoTraffic

    settings = Settings()
    configure_logging(settings.log)
    sources = load_sources(demo_sources_file(settings), settings.secrets)
    tally = asyncio.run(DemoTraffic(url, sources).run(rate, count))
    typer.echo(dict(sorted(tally.items())))


@app.command("replay")
def replay(
    topic: Annotated[
        str, typer.Argument(help="A dead-letter topic, e.g. hookline.raw.webhooks.dlq.")
    ],
    stage: Annotated[str | None, typer.Option(help="Only records failed at this stage.")] = None,
    component: Annotated[str | None, typer.Option(help="Only this processor/connector.")] = None,
    exception_class: Annotated[str | None, typer.Option(help="Only this error class.")] = None,
    source: Annotated[str | None, typer.Option(help="Only this webhook source.")] = None,
    since: Annotated[
        datetime | None, typer.Option(help="Only dead letters written from this time on (UTC).")
    ] = None,
    limit: Annotated[int | None, typer.Option(min=1, help="Replay at most this many.")] = None,
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="List what would be replayed; change nothing.")
    ] = False,
) -> None:
    """Send dead letters back to the stage they failed at, each at most once (a ledger in
    PostgreSQL), reading the topic up to its end at the start."""
    from hookline.replay import ReplayError, ReplayFilter, replay_dead_letters
    from hookline.replay_ledger import ReplayBusy

    settings = Settings()
    configure_logging(settings.log)
    try:
        report = replay_dead_letters(
            settings.kafka,
            settings.postgres.conninfo(),
            topic,
            selection=ReplayFilter(stage, component, exception_class, source),
            limit=limit,
            since=since.replace(tzinfo=UTC) if since is not None else None,
            dry_run=dry_run,
        )
    except (ValueError, ReplayBusy, ReplayError) as exc:  # an operator's error: one line
        typer.echo(f"replay stopped: {exc}", err=True)
        raise typer.Exit(1) from None
    _print_replay(report)


def _print_replay(report: ReplayReport) -> None:
    dry_run = report.dry_run
    for item in report.items if dry_run else ():
        key = (item.key or b"").decode(errors="backslashreplace")
        typer.echo(
            f"{item.partition}:{item.offset} key={key} from={item.original_topic}"
            f" stage={item.stage} error={item.exception_class} -> {item.target}"
        )
    verb = "would replay" if dry_run else "replayed"
    typer.echo(
        f"{verb} {report.replayed}, skipped {report.skipped}, already replayed"
        f" {report.already_replayed}, unreadable {report.unreadable}: {report.by_target}"
    )


@app.command("run")
def run(
    demo_traffic: Annotated[
        bool, typer.Option("--demo/--no-demo", help="Send sample traffic.")
    ] = True,
    demo_rate: Annotated[float, typer.Option(min=0.1, max=50, help="Demo requests/s.")] = 2.0,
    demo_api_port: Annotated[
        int, typer.Option(min=0, help="Port of the generic stand-in API; 0: none.")
    ] = 0,
    hubspot_port: Annotated[
        int, typer.Option(min=0, help="Port of the stand-in HubSpot; 0: none.")
    ] = 8091,
    shopify_port: Annotated[
        int, typer.Option(min=0, help="Port of the stand-in Shopify shop; 0: none.")
    ] = 8092,
    telegram_port: Annotated[
        int, typer.Option(min=0, help="Port of the stand-in Telegram Bot API; 0: none.")
    ] = 8093,
) -> None:
    """Run the whole pipeline in the foreground with the stand-ins its flows deliver to
    and its alerts go to (launcher/demo_config/connectors.toml); Ctrl-C stops it."""
    from launcher.demo_config import demo_environ
    from launcher.supervisor import supervise

    settings = Settings()
    me = [sys.executable, "-m", "launcher.cli"]
    stand_ins = {
        "demo-api": ("sandbox.destination_api", demo_api_port),
        "hubspot": ("sandbox.hubspot", hubspot_port),
        "shopify": ("sandbox.shopify", shopify_port),
        "telegram": ("sandbox.telegram", telegram_port),
    }
    commands: dict[str, list[str]] = {
        name: [sys.executable, "-m", module, str(port)]
        for name, (module, port) in stand_ins.items()
        if port
    }
    commands |= {
        "ingress": [*me, "ingress"],
        "processors": [*me, "processors"],
        "connectors": [*me, "connectors"],
    }
    if demo_traffic:
        url = f"http://{settings.ingress.host}:{settings.ingress.port}"
        commands["demo"] = [*me, "demo", "--url", url, "--rate", str(demo_rate)]
    ports = {"hubspot": hubspot_port, "shopify": shopify_port, "telegram": telegram_port}
    raise typer.Exit(supervise(commands, demo_environ(settings, os.environ, ports)))


def main() -> None:
    """Run a command; an invalid configuration ends it with one line and exit status 2."""
    try:
        app()
    except ConfigFileError as exc:
        typer.echo(f"hookline: configuration error: {exc}", err=True)
        raise SystemExit(2) from None


if __name__ == "__main__":
    main()
