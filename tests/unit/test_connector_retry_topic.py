"""Retry records: context headers round trip; dead letters see the original record."""

from __future__ import annotations

from dataclasses import replace

from connectors.retry_topic import RetryInfo, original_record, retry_headers
from hookline.dead_letter import SourceRecord

RECORD = SourceRecord(
    topic="p.connector.crm.retry",
    partition=1,
    offset=42,
    key=b"customer:cust:a",
    value=b"{}",
    headers=[("trace", b"t1")],
    timestamp_ms=1_700_000_000_000,
)
INFO = RetryInfo(
    attempt=3,
    due_ms=1_700_000_005_000,
    topic="p.events.customer",
    partition=1,
    offset=7,
    last_status=503,
    last_error="HTTP 503",
)


def test_retry_headers_round_trip_and_replace_earlier_ones() -> None:
    once = retry_headers(RECORD, INFO)
    assert RetryInfo.from_headers(once) == INFO
    later = replace(INFO, attempt=4)
    twice = retry_headers(replace(RECORD, offset=43, headers=once), later)
    assert RetryInfo.from_headers(twice) == later
    assert len(twice) == len(once)
    assert twice[0] == ("trace", b"t1")


def test_missing_or_broken_retry_headers_read_as_none() -> None:
    assert RetryInfo.from_headers([("trace", b"t1")]) is None
    assert RetryInfo.from_headers([("hookline.retry.attempt", b"x")]) is None


def test_the_original_record_has_the_first_position_and_original_headers() -> None:
    retried = replace(RECORD, offset=43, headers=retry_headers(RECORD, INFO), timestamp_ms=5)
    first = original_record(retried, INFO)
    assert (first.topic, first.partition, first.offset) == ("p.events.customer", 1, 7)
    assert first.headers == [("trace", b"t1")]
    assert (first.key, first.value, first.timestamp_ms) == (RECORD.key, RECORD.value, 5)
    assert original_record(RECORD, None) is RECORD
