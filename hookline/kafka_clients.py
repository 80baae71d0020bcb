"""Kafka client factories and an asyncio-friendly durable producer.

Producers are idempotent with ``acks=all``: a record counts as published only when every
in-sync replica has it. :class:`AsyncProducer` turns confluent-kafka's delivery callbacks
into awaitables, so a request handler can answer only after the broker acknowledged.

Every confluent-kafka client is configured here, from one :class:`KafkaSettings`: the
builders below all start from :func:`client_config`, which carries the security settings
(``security.protocol``, SASL, TLS files), so no client can connect without them.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import threading
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import (  # type: ignore[attr-defined]
    AdminClient,
    AlterConfigOpType,
    ConfigEntry,
    ConfigResource,
    NewTopic,
    TopicMetadata,
)

from hookline.settings import KafkaSettings
from hookline.topics import TopicSpec

Headers = Sequence[tuple[str, bytes]]


def security_config(settings: KafkaSettings) -> dict[str, Any]:
    """librdkafka's names for the security settings; only those the protocol uses."""
    config: dict[str, Any] = {"security.protocol": settings.security_protocol}
    if settings.uses_sasl:
        config["sasl.mechanism"] = settings.sasl_mechanism
        config["sasl.username"] = settings.sasl_username
        config["sasl.password"] = settings.sasl_password.get_secret_value()
    if settings.uses_ssl:
        files = {
            "ssl.ca.location": settings.ssl_ca_file,
            "ssl.certificate.location": settings.ssl_cert_file,
            "ssl.key.location": settings.ssl_key_file,
        }
        config |= {name: str(path) for name, path in files.items() if path is not None}
        if settings.ssl_key_password is not None:
            config["ssl.key.password"] = settings.ssl_key_password.get_secret_value()
    return config


def client_config(settings: KafkaSettings, client_suffix: str) -> dict[str, Any]:
    """What every client needs: the brokers, an id, the security settings (contains
    secrets: never log it), and librdkafka's log lines through the ``hookline.kafka``
    logger (JSON like every line, hookline.logs) instead of raw text on stderr."""
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": f"{settings.client_id}-{client_suffix}",
        "logger": librdkafka_logger(),
        **security_config(settings),
    }


class RepeatedLineFilter(logging.Filter):
    """Lets one line of a kind through per ``window_seconds``; the next one says how many
    were left out. librdkafka logs the same warning about ten times a second per client
    while a partition has no leader (a broker restarting): thousands of identical lines in
    an outage, hiding the ones that matter."""

    def __init__(self, window_seconds: float = 10.0, clock: Any = time.monotonic) -> None:
        super().__init__()
        self._window = window_seconds
        self._clock = clock
        self._seen: dict[str, tuple[float, int]] = {}  # line -> (let through at, left out)

    def filter(self, record: logging.LogRecord) -> bool:
        # Clients polled from two threads may race here: at worst a line more comes through
        # or a count is off by one, which is not worth a lock on every log line.
        line, now = record.getMessage(), self._clock()
        shown_at, left_out = self._seen.get(line, (None, 0))
        if shown_at is not None and now - shown_at < self._window:
            self._seen[line] = (shown_at, left_out + 1)
            return False
        if len(self._seen) >= _MAX_REMEMBERED_LINES:
            self._seen.clear()  # bounded: a flood of distinct lines is let through
        self._seen[line] = (now, 0)
        if left_out:
            record.msg, record.args = f"{line} ({left_out} more like it left out)", None
        return True


_MAX_REMEMBERED_LINES = 1000


def librdkafka_logger() -> logging.Logger:
    """The logger librdkafka's lines go to (served by poll): a line repeated within ten
    seconds is left out (:class:`RepeatedLineFilter`)."""
    logger = logging.getLogger("hookline.kafka")
    if not any(isinstance(f, RepeatedLineFilter) for f in logger.filters):
        logger.addFilter(RepeatedLineFilter())
    return logger


#: What a record may carry beyond the webhook body it holds: its key, Hookline's headers
#: (some copied from request headers, which aiohttp bounds at 8 KiB each), the CloudEvent
#: envelope of a normalised event, a dead letter's context headers. A source's
#: ``max_body_bytes`` plus this must fit in ``KafkaSettings.max_message_bytes``.
MESSAGE_HEADROOM_BYTES = 64 * 1024
#: What a record batch adds to the records it holds (Kafka's batch header is 61 bytes,
#: each record's varints a few more): the topics take ``max_message_bytes`` whole, the
#: clients produce up to this much less. librdkafka sends a batch uncompressed when
#: compression would make it larger, so compression adds nothing here.
BATCH_FRAMING_BYTES = 1024
#: librdkafka's and aiokafka's default ``fetch.max.bytes`` (a consumer's whole fetch).
_FETCH_MAX_BYTES = 52_428_800


def producible_bytes(settings: KafkaSettings) -> int:
    """The largest record (key + value + headers) our producers send: what fits, batch
    framing included, in a topic that takes ``max_message_bytes``."""
    return settings.max_message_bytes - BATCH_FRAMING_BYTES


def admin_config(settings: KafkaSettings, client_suffix: str = "admin") -> dict[str, Any]:
    return client_config(settings, client_suffix)


def producer_config(settings: KafkaSettings, client_suffix: str) -> dict[str, Any]:
    return {
        **client_config(settings, client_suffix),
        "acks": "all",
        "enable.idempotence": True,
        "max.in.flight.requests.per.connection": 5,
        # Java-compatible key hashing: the same key maps to the same partition from every
        # client (faust, Kafka Streams, Connect), not only from librdkafka ones.
        "partitioner": "murmur2_random",
        "linger.ms": settings.linger_ms,
        "compression.type": "lz4",
        "message.timeout.ms": settings.delivery_timeout_ms,
        # librdkafka's default (1,000,000 bytes, key and headers included) is under the
        # default 1 MiB body limit: such a webhook would be refused on every retry.
        "message.max.bytes": producible_bytes(settings),
    }


def consumer_config(settings: KafkaSettings, group_id: str, client_suffix: str) -> dict[str, Any]:
    return {
        **client_config(settings, client_suffix),
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
        # A partition's fetch always returns at least one record, whatever its size; these
        # let one fetch hold the largest record whole.
        "max.partition.fetch.bytes": settings.max_message_bytes,
        "fetch.max.bytes": max(_FETCH_MAX_BYTES, settings.max_message_bytes),
    }


class KafkaAuthenticationError(Exception):
    """The brokers refused this client's credentials or TLS handshake: a configuration
    error to report at once, not an outage to wait out. The message names the user and
    mechanism, never the password."""


#: librdkafka's codes for "the brokers refused who we are", as opposed to "unreachable".
_REFUSED = frozenset(
    {KafkaError._AUTHENTICATION, KafkaError.SASL_AUTHENTICATION_FAILED, KafkaError._SSL}
)


def connect_admin(settings: KafkaSettings, timeout: float = 30) -> tuple[AdminClient, Any]:
    """An admin client and the cluster's metadata, once a broker answered.

    Raises :class:`KafkaAuthenticationError` about a second after the brokers refused the
    credentials (librdkafka would otherwise retry them silently until ``timeout``), and
    ``KafkaException`` when no broker answered within ``timeout``.
    """
    refused: list[KafkaError] = []
    config: dict[str, Any] = {**admin_config(settings), "error_cb": refused.append}
    admin = AdminClient(config)
    deadline = time.monotonic() + timeout
    while True:
        try:
            return admin, admin.list_topics(timeout=min(1.0, max(deadline - time.monotonic(), 0)))
        except KafkaException:
            admin.poll(0)  # serves error_cb: what the brokers said
            reasons = {e.str() for e in refused if e.code() in _REFUSED}
            if reasons:
                raise KafkaAuthenticationError(_refusal(settings, sorted(reasons)[0])) from None
            if time.monotonic() >= deadline:
                raise


def check_credentials(settings: KafkaSettings, timeout: float = 15) -> None:
    """Raise :class:`KafkaAuthenticationError` when the brokers refuse the credentials.

    Brokers that do not answer within ``timeout`` are not an error here: a service waits
    for Kafka to come back, but cannot wait for a wrong password to become right.
    """
    with contextlib.suppress(KafkaException):
        connect_admin(settings, timeout)


def _refusal(settings: KafkaSettings, reason: str) -> str:
    who = (
        f"user {settings.sasl_username!r} ({settings.sasl_mechanism})"
        if settings.uses_sasl
        else "TLS"
    )
    return (
        f"Kafka authentication failed at {settings.bootstrap_servers} for {who} over "
        f"{settings.security_protocol}: {reason}"
    )


def ensure_topics(
    settings: KafkaSettings, specs: Iterable[TopicSpec], timeout: float = 30
) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Idempotent.

    Topics get ``settings.replication_factor`` replicas, ``min.insync.replicas`` and
    ``max.message.bytes`` (``settings.max_message_bytes``) from the settings; existing ones
    whose ``max.message.bytes`` is lower are raised to it. Raises
    :class:`KafkaAuthenticationError` when the credentials are refused. Returns once the
    brokers' metadata shows every topic created with its leaders (:func:`_await_led`), so a
    consumer may subscribe to them at once.
    """
    admin, metadata = connect_admin(settings, timeout)
    specs = list(specs)
    existing = set(metadata.topics)
    raise_message_limits(admin, settings, [s.name for s in specs if s.name in existing], timeout)
    wanted = [s for s in specs if s.name not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=settings.replication_factor,
                config={
                    **s.config(),
                    "min.insync.replicas": str(settings.min_insync_replicas),
                    "max.message.bytes": str(settings.max_message_bytes),
                },
            )
            for s in wanted
        ],
        operation_timeout=timeout,
        request_timeout=timeout,
    )
    created = []
    for name, future in futures.items():
        try:
            future.result()
            created.append(name)
        except KafkaException as exc:
            if exc.args[0].code() != KafkaError.TOPIC_ALREADY_EXISTS:
                raise
    _await_led(admin, [s.name for s in wanted], timeout)
    return created


def _await_led(admin: AdminClient, names: Sequence[str], timeout: float) -> None:
    """Return once the brokers' metadata shows every topic of ``names`` with a leader for
    each partition; ``KafkaException`` after ``timeout``.

    A created topic reaches the brokers' metadata a moment after CreateTopics returned.
    A consumer that subscribed within that moment is assigned the topics it could see and
    does not look for the others again until its next metadata refresh (librdkafka's
    ``topic.metadata.refresh.interval.ms``, 5 minutes): a connector subscribing right after
    creating its retry topics would leave its retries unread that long.
    """
    deadline = time.monotonic() + timeout
    while True:
        topics = admin.list_topics(timeout=max(deadline - time.monotonic(), 0.1)).topics
        missing = [n for n in names if not _led(topics.get(n))]
        if not missing:
            return
        if time.monotonic() >= deadline:
            raise KafkaException(
                KafkaError(KafkaError._TIMED_OUT, f"topics without a leader yet: {missing}")
            )
        time.sleep(0.05)


def _led(topic: TopicMetadata | None) -> bool:
    return (
        topic is not None
        and topic.error is None
        and bool(topic.partitions)
        and all(p.leader >= 0 for p in topic.partitions.values())
    )


def message_limits(
    admin: AdminClient, topics: Sequence[str], timeout: float = 30
) -> dict[str, int]:
    """Each existing topic's ``max.message.bytes`` (its own or the broker's default)."""
    if not topics:
        return {}
    resources = [ConfigResource(ConfigResource.Type.TOPIC, name) for name in topics]
    futures = admin.describe_configs(resources, request_timeout=timeout)
    return {
        resource.name: int(future.result()["max.message.bytes"].value)
        for resource, future in futures.items()
    }


def raise_message_limits(
    admin: AdminClient, settings: KafkaSettings, topics: Sequence[str], timeout: float = 30
) -> list[str]:
    """Raise to ``settings.max_message_bytes`` the ``max.message.bytes`` of those topics
    that take less (a topic created before, or by someone else); return their names.
    Other topic settings are left as they are (incremental alter)."""
    wanted = settings.max_message_bytes
    low = [t for t, limit in message_limits(admin, topics, timeout).items() if limit < wanted]
    if not low:
        return []
    entry = ConfigEntry(
        "max.message.bytes", str(wanted), incremental_operation=AlterConfigOpType.SET
    )
    resources = [
        ConfigResource(ConfigResource.Type.TOPIC, name, incremental_configs=[entry]) for name in low
    ]
    for future in admin.incremental_alter_configs(resources, request_timeout=timeout).values():
        future.result()
    logging.getLogger("hookline.kafka").info(
        "raised max.message.bytes to %d on %s", wanted, ", ".join(low)
    )
    return low


@dataclass(frozen=True, slots=True)
class Delivered:
    topic: str
    partition: int
    offset: int


class PublishError(Exception):
    """Kafka did not durably accept a record.

    ``refused`` tells the two kinds apart: True when the brokers or the client refuse the
    record itself (too large, invalid), so sending it again can never succeed; False when
    it was "not now" (broker down, no leader, not enough replicas, queue full, timed out),
    so the same record may be sent again once the cluster is back.
    """

    def __init__(self, message: str, *, refused: bool = False) -> None:
        super().__init__(message)
        self.refused = refused

    @classmethod
    def of(cls, error: KafkaError, text: str | None = None) -> PublishError:
        return cls(error.str() if text is None else text, refused=error.code() in _RECORD_REFUSED)


#: librdkafka's codes for "this record can never be written" (the local size check uses
#: the broker's code too), as opposed to the cluster being unavailable for now.
_RECORD_REFUSED = frozenset(
    {
        KafkaError.MSG_SIZE_TOO_LARGE,
        KafkaError.RECORD_LIST_TOO_LARGE,
        KafkaError.INVALID_RECORD,
    }
)


class AsyncProducer:
    """An idempotent ``acks=all`` producer whose ``send`` resolves on broker acknowledgement.

    Delivery reports are served on the event loop itself: while records are in flight, a
    task polls librdkafka without blocking every millisecond or so and each report settles
    its future directly. No thread hands results over, so under load the loop does not
    trade the GIL with a poller thread for every batch (measured in bench/bench_ingress.py).
    A producer belongs to the event loop of its first ``send``.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        # librdkafka's own log lines go through Python logging (served by poll), not
        # straight to stderr where they would bypass our log format.
        self._producer = Producer(
            {**config, "logger": librdkafka_logger(), "error_cb": self.on_error}
        )
        #: Why the producer failed for good (librdkafka's fatal error), or None while usable.
        self.fatal_error: str | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._loop_thread = 0
        self._in_flight = 0
        self._work: asyncio.Event | None = None
        self._poller: asyncio.Task[None] | None = None

    def _bind(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            self._loop = asyncio.get_running_loop()
            self._loop_thread = threading.get_ident()
            self._work = asyncio.Event()
            self._poller = self._loop.create_task(self._poll_while_in_flight(self._work))
        return self._loop

    async def _poll_while_in_flight(self, work: asyncio.Event) -> None:
        while True:
            if self._in_flight == 0:
                work.clear()
                await work.wait()
            self._producer.poll(0)
            await asyncio.sleep(_POLL_INTERVAL_SECONDS)

    def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Headers = (),
        timestamp: int | None = None,
        *,
        partition: int | None = None,
    ) -> asyncio.Future[Delivered]:
        """Queue one record (to ``partition``, else the key's); the returned future
        resolves once the broker acknowledged it.

        Raises :class:`PublishError` at once when the local queue is full.
        """
        loop = self._bind()
        future: asyncio.Future[Delivered] = loop.create_future()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            self._in_flight -= 1
            if threading.get_ident() == self._loop_thread:
                _settle(future, err, msg)
            else:  # served by flush() from another thread at shutdown
                loop.call_soon_threadsafe(_settle, future, err, msg)

        try:
            self._producer.produce(
                topic,
                value=value,
                key=key,
                headers=list(headers),
                on_delivery=on_delivery,
                timestamp=timestamp or 0,  # 0: let the client stamp the record
                partition=-1 if partition is None else partition,  # -1: the partitioner's
            )
        except BufferError as exc:
            raise PublishError("producer queue is full") from exc
        except KafkaException as exc:
            if exc.args[0].fatal():
                self.fatal_error = exc.args[0].str()
            raise PublishError.of(exc.args[0], str(exc.args[0])) from exc
        self._in_flight += 1
        if self._work is not None:
            self._work.set()
        return future

    def on_error(self, error: KafkaError) -> None:
        """librdkafka's ``error_cb`` (served by poll). A fatal error, e.g. an idempotent
        producer's broken sequence, makes every later produce fail: it is recorded in
        ``fatal_error`` for the owner to replace this producer. Other errors are transient
        and already in librdkafka's own log lines."""
        if error.fatal():
            self.fatal_error = error.str()
            logging.getLogger("hookline.kafka").error("producer failed fatally: %s", error.str())

    def broker_reachable(self, timeout: float) -> bool:
        """True when a metadata request reaches a broker within ``timeout`` (blocking)."""
        try:
            return bool(self._producer.list_topics(timeout=timeout).brokers)
        except KafkaException:
            return False

    def queue_length(self) -> int:
        return len(self._producer)

    def flush(self, timeout: float) -> int:
        """Wait for queued records; return how many are still undelivered (blocking)."""
        return int(self._producer.flush(timeout))

    def close(self, timeout: float = 10.0) -> int:
        """Flush and stop polling; callable from any thread. Returns records not delivered."""
        remaining = self.flush(timeout)
        if self._poller is not None and self._loop is not None:
            self._loop.call_soon_threadsafe(self._poller.cancel)
        return remaining


_POLL_INTERVAL_SECONDS = 0.0005


def _settle(future: asyncio.Future[Delivered], err: KafkaError | None, msg: Message) -> None:
    if future.done():  # the caller gave up (deadline); the record may still land
        return
    if err is not None:
        future.set_exception(PublishError.of(err))
    else:
        future.set_result(Delivered(msg.topic() or "", msg.partition() or 0, msg.offset() or 0))
