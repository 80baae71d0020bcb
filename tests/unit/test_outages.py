"""Which failures are a dependency's outage (waited out) and which are defects (crashes)."""

from __future__ import annotations

import psycopg
import pytest
from confluent_kafka import KafkaError, KafkaException
from psycopg_pool import PoolTimeout

from hookline.kafka_clients import PublishError
from hookline.outages import KAFKA, POSTGRESQL, first_error, unavailable_dependency


@pytest.mark.parametrize(
    ("error", "expected"),
    [
        (psycopg.OperationalError("connection refused"), POSTGRESQL),
        (PoolTimeout("couldn't get a connection after 30.00 sec"), POSTGRESQL),
        (psycopg.errors.AdminShutdown("terminating connection"), POSTGRESQL),  # 57P01
        (psycopg.errors.CannotConnectNow("the database system is starting up"), POSTGRESQL),
        (psycopg.errors.ConnectionFailure("x"), POSTGRESQL),  # 08006
        (psycopg.errors.InvalidPassword("password authentication failed"), None),  # 28P01
        (psycopg.errors.UndefinedTable("relation does not exist"), None),
        (psycopg.errors.UniqueViolation("duplicate key"), None),
        (KafkaException(KafkaError(KafkaError._TRANSPORT)), KAFKA),
        (KafkaException(KafkaError(KafkaError._ALL_BROKERS_DOWN)), KAFKA),
        (KafkaException(KafkaError(KafkaError._MSG_TIMED_OUT)), KAFKA),
        (KafkaException(KafkaError(KafkaError.COORDINATOR_NOT_AVAILABLE)), KAFKA),
        (KafkaException(KafkaError(KafkaError.UNKNOWN_MEMBER_ID)), KAFKA),  # a broker restart
        (KafkaException(KafkaError(KafkaError.TOPIC_AUTHORIZATION_FAILED)), None),
        (KafkaException(KafkaError(KafkaError.FENCED_INSTANCE_ID)), None),  # two same ids
        (KafkaException(KafkaError(KafkaError._TRANSPORT, fatal=True)), None),
        (PublishError("Local: Message timed out"), KAFKA),
        (PublishError("Broker: Message size too large", refused=True), None),
        (ValueError("a defect"), None),
        (KeyError("state"), None),
    ],
)
def test_an_exception_is_an_outage_of_its_dependency_or_none(
    error: BaseException, expected: str | None
) -> None:
    assert unavailable_dependency(error) == expected


def test_a_group_is_an_outage_only_when_every_exception_in_it_is_one() -> None:
    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    assert unavailable_dependency(ExceptionGroup("batch", [lost, lost])) == POSTGRESQL
    nested = ExceptionGroup("outer", [ExceptionGroup("inner", [lost])])
    assert unavailable_dependency(nested) == POSTGRESQL
    assert unavailable_dependency(ExceptionGroup("batch", [lost, ValueError("bug")])) is None


def test_first_error_reads_through_groups() -> None:
    lost = psycopg.OperationalError("server closed the connection unexpectedly")
    assert first_error(ExceptionGroup("batch", [lost])) == str(lost)
    assert first_error(TimeoutError()) == "TimeoutError"
