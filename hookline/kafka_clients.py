"""Kafka client factories and an asyncio-friendly durable producer.

Producers are idempotent with ``acks=all``: a record counts as published only when every
in-sync replica has it. :class:`AsyncProducer` turns confluent-kafka's delivery callbacks
into awaitables, so a request handler can answer only after the broker acknowledged.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from confluent_kafka import KafkaError, KafkaException, Message, Producer
from confluent_kafka.admin import AdminClient, NewTopic  # type: ignore[attr-defined]

from hookline.settings import KafkaSettings
from hookline.topics import TopicSpec

Headers = Sequence[tuple[str, bytes]]


def producer_config(settings: KafkaSettings, client_suffix: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": f"{settings.client_id}-{client_suffix}",
        "acks": "all",
        "enable.idempotence": True,
        "max.in.flight.requests.per.connection": 5,
        # Java-compatible key hashing: the same key maps to the same partition from every
        # client (faust, Kafka Streams, Connect), not only from librdkafka ones.
        "partitioner": "murmur2_random",
        "linger.ms": settings.linger_ms,
        "compression.type": "lz4",
        "message.timeout.ms": settings.delivery_timeout_ms,
    }


def consumer_config(settings: KafkaSettings, group_id: str, client_suffix: str) -> dict[str, Any]:
    return {
        "bootstrap.servers": settings.bootstrap_servers,
        "client.id": f"{settings.client_id}-{client_suffix}",
        "group.id": group_id,
        "enable.auto.commit": False,
        "auto.offset.reset": "earliest",
        "isolation.level": "read_committed",
    }


def ensure_topics(
    settings: KafkaSettings, specs: Iterable[TopicSpec], timeout: float = 30
) -> list[str]:
    """Create the topics that do not exist yet; return the names created. Idempotent."""
    admin = AdminClient({"bootstrap.servers": settings.bootstrap_servers})
    existing = set(admin.list_topics(timeout=timeout).topics)
    wanted = [s for s in specs if s.name not in existing]
    if not wanted:
        return []
    futures = admin.create_topics(
        [
            NewTopic(
                s.name,
                num_partitions=s.partitions,
                replication_factor=settings.replication_factor,
                config=s.config(),
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
    return created


@dataclass(frozen=True, slots=True)
class Delivered:
    topic: str
    partition: int
    offset: int


class PublishError(Exception):
    """Kafka did not durably accept a record (broker down, queue full, timeout)."""


class AsyncProducer:
    """An idempotent ``acks=all`` producer whose ``send`` resolves on broker acknowledgement.

    A background thread serves librdkafka's delivery reports. It collects every report of
    one ``poll`` and hands them to each event loop in a single ``call_soon_threadsafe``:
    one cross-thread wake-up per batch instead of one per record, which under load is the
    difference between the loop doing work and the two threads trading the GIL.
    """

    def __init__(self, config: dict[str, Any]) -> None:
        self._producer = Producer(config)
        self._reports: list[_Report] = []
        self._stopping = threading.Event()
        self._poller = threading.Thread(target=self._poll_forever, name="kafka-poll", daemon=True)
        self._poller.start()

    def _poll_forever(self) -> None:
        while not self._stopping.is_set():
            self._producer.poll(0.05)  # runs the on_delivery callbacks in this thread
            if self._reports:
                reports, self._reports = self._reports, []
                _hand_over(reports)

    def send(
        self,
        topic: str,
        value: bytes,
        key: bytes | None = None,
        headers: Headers = (),
        timestamp: int | None = None,
    ) -> asyncio.Future[Delivered]:
        """Queue one record; the returned future resolves once the broker acknowledged it.

        Raises :class:`PublishError` at once when the local queue is full.
        """
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Delivered] = loop.create_future()

        def on_delivery(err: KafkaError | None, msg: Message) -> None:
            self._reports.append((loop, future, err, msg))

        try:
            self._producer.produce(
                topic,
                value=value,
                key=key,
                headers=list(headers),
                on_delivery=on_delivery,
                timestamp=timestamp or 0,  # 0: let the client stamp the record
            )
        except BufferError as exc:
            raise PublishError("producer queue is full") from exc
        except KafkaException as exc:
            raise PublishError(str(exc.args[0])) from exc
        return future

    def broker_reachable(self, timeout: float) -> bool:
        """True when a metadata request reaches a broker within ``timeout`` (blocking)."""
        try:
            return bool(self._producer.list_topics(timeout=timeout).brokers)
        except KafkaException:
            return False

    def queue_length(self) -> int:
        return len(self._producer)

    def flush(self, timeout: float) -> int:
        """Wait for queued records; return how many are still undelivered."""
        return int(self._producer.flush(timeout))

    def close(self, timeout: float = 10.0) -> int:
        remaining = self.flush(timeout)
        self._stopping.set()
        self._poller.join(timeout=1)
        return remaining


_Report = tuple[asyncio.AbstractEventLoop, "asyncio.Future[Delivered]", KafkaError | None, Message]


def _hand_over(reports: list[_Report]) -> None:
    by_loop: dict[asyncio.AbstractEventLoop, list[_Report]] = {}
    for report in reports:
        by_loop.setdefault(report[0], []).append(report)
    for loop, batch in by_loop.items():
        try:
            loop.call_soon_threadsafe(_settle_all, batch)
        except RuntimeError:  # that loop is closed: nobody awaits these futures any more
            continue


def _settle_all(reports: list[_Report]) -> None:
    for _loop, future, err, msg in reports:
        if future.done():  # the caller gave up (deadline); the record may still land
            continue
        if err is not None:
            future.set_exception(PublishError(err.str()))
        else:
            future.set_result(Delivered(msg.topic() or "", msg.partition() or 0, msg.offset() or 0))
