"""Telling a dependency's outage from a defect.

A service that fails because PostgreSQL or Kafka cannot be reached *for now* (a restart, a
failover, a network cut) has nothing wrong with it: it should wait, say which dependency
it waits for, and go on once it is back. Anything else (a bug, a refused record, a wrong
schema) is a crash worth a traceback. :func:`unavailable_dependency` makes that call from
the exception alone.
"""

from __future__ import annotations

import psycopg
from confluent_kafka import KafkaError, KafkaException

from hookline.kafka_clients import PublishError

POSTGRESQL = "postgresql"
KAFKA = "kafka"
#: How a dependency is named in a sentence (an alert, an API error).
DISPLAY_NAMES = {POSTGRESQL: "PostgreSQL", KAFKA: "Kafka"}

#: SQLSTATEs of a server going away or not accepting connections yet: class 08
#: (connection exception) and the shutdown / start-up codes of class 57.
_PG_GONE = ("08", "57P01", "57P02", "57P03")

#: librdkafka's codes for "no broker answered" or "the group must be joined again",
#: besides the errors it marks retriable itself.
_KAFKA_UNREACHABLE = frozenset(
    {
        KafkaError._TRANSPORT,
        KafkaError._ALL_BROKERS_DOWN,
        KafkaError._TIMED_OUT,
        KafkaError._MSG_TIMED_OUT,
        KafkaError._RESOLVE,
        KafkaError._WAIT_COORD,
        KafkaError.COORDINATOR_NOT_AVAILABLE,
        KafkaError.NOT_COORDINATOR,
        KafkaError.COORDINATOR_LOAD_IN_PROGRESS,
        KafkaError.LEADER_NOT_AVAILABLE,
        KafkaError.NOT_LEADER_FOR_PARTITION,
        KafkaError.REQUEST_TIMED_OUT,
        KafkaError.NETWORK_EXCEPTION,
        KafkaError.NOT_ENOUGH_REPLICAS,
        # The group forgot this member while the broker was away (its session timed out):
        # a commit fails with these, and the member rejoins on its next poll.
        KafkaError.UNKNOWN_MEMBER_ID,
        KafkaError.ILLEGAL_GENERATION,
        KafkaError.REBALANCE_IN_PROGRESS,
    }
)


def unavailable_dependency(exc: BaseException) -> str | None:
    """``"postgresql"`` or ``"kafka"`` when ``exc`` says that dependency cannot be reached
    for now; None for anything else. An exception group is an outage only when each of
    its exceptions is one: a defect beside an outage must still be seen as a defect."""
    if isinstance(exc, BaseExceptionGroup):
        causes = [unavailable_dependency(inner) for inner in exc.exceptions]
        if not causes or None in causes:
            return None
        return causes[0]
    if isinstance(exc, psycopg.OperationalError):
        return POSTGRESQL if _pg_connection_lost(exc) else None
    if isinstance(exc, PublishError):
        return None if exc.refused else KAFKA
    if isinstance(exc, KafkaException):
        return KAFKA if _kafka_unreachable(exc) else None
    return None


def _pg_connection_lost(exc: psycopg.OperationalError) -> bool:
    # No SQLSTATE: the client lost or never had a connection (refused, reset, the pool
    # timed out waiting for one). With one, the server answered: only its
    # "going away" / "not ready" codes are an outage, not a refused login.
    state = exc.sqlstate
    return state is None or state.startswith(_PG_GONE)


def _kafka_unreachable(exc: KafkaException) -> bool:
    error = exc.args[0] if exc.args else None
    if not isinstance(error, KafkaError) or error.fatal():
        return False
    return bool(error.retriable()) or error.code() in _KAFKA_UNREACHABLE


def first_error(exc: BaseException) -> str:
    """The message of ``exc``, or of the first exception inside it when it is a group (a
    group's own message only says how many it holds)."""
    while isinstance(exc, BaseExceptionGroup) and exc.exceptions:
        exc = exc.exceptions[0]
    return str(exc) or type(exc).__name__
