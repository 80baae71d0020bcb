"""Shared fixtures. Every test that touches Kafka gets its own topic prefix, so the suite
runs in any order; a missing Kafka or PostgreSQL fails the run, it never skips."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import psycopg
import pytest
from confluent_kafka import Consumer, Message
from confluent_kafka.admin import AdminClient
from psycopg_pool import AsyncConnectionPool

from hookline.db import apply_migrations, create_pool
from hookline.kafka_clients import admin_config, consumer_config, ensure_topics
from hookline.settings import KafkaSettings, PostgresSettings, Settings
from hookline.topics import Topics
from tests.kafka_topics import delete_topics_with_prefix

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Disruptive tests (they stop or kill the shared broker) run after all others."""
    items.sort(key=lambda item: item.get_closest_marker("disruptive") is not None)


def unique(prefix: str = "t") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def base_settings() -> Settings:
    return Settings(_env_file=None)  # type: ignore[call-arg]


@pytest.fixture(scope="session")
def kafka_available(base_settings: Settings) -> KafkaSettings:
    admin = AdminClient(admin_config(base_settings.kafka))
    try:
        admin.list_topics(timeout=10)
    except Exception as exc:
        pytest.fail(f"Kafka is not reachable ({exc}); run the suite with `make test`")
    return base_settings.kafka


@pytest.fixture(scope="session")
def postgres_available(base_settings: Settings) -> PostgresSettings:
    try:
        psycopg.connect(base_settings.postgres.conninfo(), connect_timeout=5).close()
    except psycopg.OperationalError as exc:
        pytest.fail(f"PostgreSQL is not reachable ({exc}); run the suite with `make test`")
    return base_settings.postgres


@pytest.fixture
def settings(base_settings: Settings, kafka_available: KafkaSettings) -> Iterator[Settings]:
    """Settings with a topic prefix of this test's own; its topics are deleted afterwards."""
    prefix = unique()
    kafka = kafka_available.model_copy(update={"topic_prefix": prefix, "default_partitions": 3})
    yield base_settings.model_copy(update={"kafka": kafka})
    delete_topics_with_prefix(kafka, prefix)


@pytest.fixture
def topics(settings: Settings) -> Topics:
    """The core topics, created for this test."""
    names = Topics(settings.kafka.topic_prefix)
    ensure_topics(settings.kafka, names.core(settings.kafka.default_partitions))
    return names


ConsumeFn = Callable[..., list[Message]]


@pytest.fixture
def consume(settings: Settings) -> Iterator[ConsumeFn]:
    """``consume(topic, count, timeout=20)``: read ``count`` records from the beginning."""
    consumers: list[Consumer] = []

    def _consume(topic: str, count: int, timeout: float = 20.0) -> list[Message]:
        consumer = Consumer(consumer_config(settings.kafka, unique("g"), "test"))
        consumers.append(consumer)
        consumer.subscribe([topic])
        return drain(consumer, count, timeout)

    yield _consume
    for consumer in consumers:
        consumer.close()


def drain(consumer: Consumer, count: int, timeout: float) -> list[Message]:
    import time

    records: list[Message] = []
    deadline = time.monotonic() + timeout
    while len(records) < count and time.monotonic() < deadline:
        msg = consumer.poll(0.2)
        if msg is None:
            continue
        if msg.error():
            raise AssertionError(f"consumer error: {msg.error()}")
        records.append(msg)
    return records


def create_database(postgres: PostgresSettings, name: str) -> PostgresSettings:
    """A new empty database ``name`` on the test server; settings that point at it."""
    with psycopg.connect(postgres.conninfo(), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    return postgres.model_copy(update={"database": name})


def drop_database(postgres: PostgresSettings, name: str, timeout: float = 30.0) -> None:
    """Drop ``name``, ending its sessions. ``WITH (FORCE)`` may not terminate an autovacuum
    worker (it runs as the superuser, we do not): wait for it to finish and try again."""
    import time

    deadline = time.monotonic() + timeout
    while True:
        try:
            with psycopg.connect(postgres.conninfo(), autocommit=True) as conn:
                conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        except (psycopg.errors.InsufficientPrivilege, psycopg.errors.ObjectInUse):
            if time.monotonic() > deadline:
                raise
            time.sleep(0.5)
        else:
            return


@pytest.fixture
def empty_database(postgres_available: PostgresSettings) -> Iterator[PostgresSettings]:
    """A database of this test's own with nothing in it; dropped afterwards."""
    name = unique("db")
    yield create_database(postgres_available, name)
    drop_database(postgres_available, name)


@pytest.fixture
def fresh_database(postgres_available: PostgresSettings) -> Iterator[PostgresSettings]:
    """A database of this test's own with the migrations applied; dropped afterwards."""
    name = unique("db")
    settings = create_database(postgres_available, name)
    apply_migrations(settings.conninfo())
    yield settings
    drop_database(postgres_available, name)


@pytest.fixture
async def autocommit_pool(fresh_database: PostgresSettings) -> AsyncIterator[AsyncConnectionPool]:
    """An open pool of autocommit connections to this test's fresh database."""
    pool = create_pool(fresh_database, autocommit=True)
    await pool.open(wait=True)
    yield pool
    await pool.close()
