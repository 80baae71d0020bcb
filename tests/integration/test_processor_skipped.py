"""Reading again the raw records faust skipped (processors.skipped), from the real broker."""

from __future__ import annotations

from confluent_kafka import Producer

from hookline.dead_letter import SourceRecord
from hookline.kafka_clients import producer_config
from hookline.settings import Settings
from hookline.topics import Topics
from processors.skipped import SkipFiller, Skipped, SkippedRecords


def produce(settings: Settings, topic: str, partition: int, count: int) -> None:
    producer = Producer(producer_config(settings.kafka, "test"))
    for n in range(count):
        producer.produce(topic, key=f"k{n}".encode(), value=b"v%d" % n, partition=partition)
    assert producer.flush(30) == 0


def test_a_skipped_range_is_read_again_whole_and_in_order(
    settings: Settings, topics: Topics
) -> None:
    produce(settings, topics.raw_webhooks, 1, 30)
    read: list[Skipped] = []
    skipped = Skipped(topics.raw_webhooks, 1, 11, 19)

    records = SkippedRecords(settings.kafka, "skipped-test", read.append).read(skipped)

    assert [r.offset for r in records] == list(range(11, 19))
    assert [r.value for r in records] == [b"v%d" % n for n in range(11, 19)]
    assert {(r.topic, r.partition) for r in records} == {(topics.raw_webhooks, 1)}
    assert read == [skipped]  # counted (hookline_processor_skipped_records_total)


async def test_the_worker_gets_the_skipped_records_in_their_place(
    settings: Settings, topics: Topics
) -> None:
    """As after a restart in the chaos test: faust delivers 0 to 9, then 20 to 29."""
    produce(settings, topics.raw_webhooks, 0, 30)
    filler = SkipFiller(SkippedRecords(settings.kafka, "skipped-test", lambda _: None))

    def delivered(offsets: range) -> list[SourceRecord]:
        topic = topics.raw_webhooks
        return [SourceRecord(topic, 0, n, b"k", b"v%d" % n, [], None) for n in offsets]

    first = await filler.records(delivered(range(10)))
    second = await filler.records(delivered(range(20, 30)))

    assert [r.offset for r in first] == list(range(10))
    assert [r.offset for r in second] == list(range(10, 30))
    assert [r.value for r in second] == [b"v%d" % n for n in range(10, 30)]
