"""librdkafka's repeated lines (a partition without a leader, ten times a second per
client) are let through once per window, the next one counting what was left out."""

from __future__ import annotations

import logging

import pytest

from hookline.kafka_clients import RepeatedLineFilter, librdkafka_logger

NO_LEADER = "METADATAUPDATE [%s] [thrd:main]: Partition %s: new leader-1 not found in cache"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def line(*args: object) -> logging.LogRecord:
    return logging.LogRecord("hookline.kafka", logging.WARNING, __file__, 1, NO_LEADER, args, None)


def test_a_repeated_line_is_let_through_once_per_window_then_counts_what_was_left_out() -> None:
    clock = Clock()
    repeats = RepeatedLineFilter(window_seconds=10, clock=clock)
    shown = []
    for _ in range(100):  # ten seconds of a broker restart, ten lines a second
        record = line("producer-1", "raw.webhooks[0]")
        if repeats.filter(record):
            shown.append(record.getMessage())
        clock.now += 0.1
    clock.now = 110.0  # the window is over
    record = line("producer-1", "raw.webhooks[0]")
    assert repeats.filter(record)
    shown.append(record.getMessage())
    assert shown == [
        NO_LEADER % ("producer-1", "raw.webhooks[0]"),
        NO_LEADER % ("producer-1", "raw.webhooks[0]") + " (99 more like it left out)",
    ]


def test_different_lines_are_each_let_through() -> None:
    repeats = RepeatedLineFilter(window_seconds=10, clock=Clock())
    assert repeats.filter(line("producer-1", "raw.webhooks[0]"))
    assert repeats.filter(line("producer-1", "raw.webhooks[1]"))
    assert repeats.filter(line("producer-2", "raw.webhooks[0]"))
    assert not repeats.filter(line("producer-1", "raw.webhooks[1]"))


def test_every_client_logs_through_one_filtered_logger(caplog: pytest.LogCaptureFixture) -> None:
    logger = librdkafka_logger()
    assert librdkafka_logger() is logger
    assert sum(isinstance(f, RepeatedLineFilter) for f in logger.filters) == 1
    with caplog.at_level(logging.WARNING, logger="hookline.kafka"):
        for _ in range(5):
            logger.warning(NO_LEADER, "producer-9", "t[0]")
    assert [r.getMessage() for r in caplog.records] == [NO_LEADER % ("producer-9", "t[0]")]
