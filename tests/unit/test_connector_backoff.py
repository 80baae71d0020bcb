"""The retry schedule: 1, 4, 16, 64 s by default, jitter, Retry-After as a floor."""

from __future__ import annotations

import pytest

from connectors.backoff import retry_delay, schedule, should_retry
from connectors.config import RetryConfig

DEFAULT = RetryConfig()


def test_default_schedule_is_1_4_16_64_seconds_over_5_attempts() -> None:
    assert schedule(DEFAULT) == [1.0, 4.0, 16.0, 64.0]
    assert [should_retry(DEFAULT, n) for n in range(1, 6)] == [True] * 4 + [False]


@pytest.mark.parametrize("attempt", [1, 2, 3, 4])
def test_jitter_spreads_within_its_share(attempt: int) -> None:
    base = DEFAULT.delays_seconds[attempt - 1]
    low = retry_delay(DEFAULT, attempt, draw=lambda: 0.0)
    high = retry_delay(DEFAULT, attempt, draw=lambda: 0.999999)
    assert low == pytest.approx(base * 0.8)
    assert high == pytest.approx(base * 1.2, rel=1e-5)


def test_retry_after_is_a_floor_and_only_spreads_upwards() -> None:
    assert retry_delay(DEFAULT, 1, retry_after=30, draw=lambda: 0.0) == 30
    assert retry_delay(DEFAULT, 1, retry_after=30, draw=lambda: 0.5) == pytest.approx(33)
    assert retry_delay(DEFAULT, 4, retry_after=2, draw=lambda: 0.5) == 64  # backoff longer


def test_every_wait_is_capped() -> None:
    config = RetryConfig(max_delay_seconds=10)
    assert retry_delay(config, 4) == 10
    assert retry_delay(config, 1, retry_after=3600) == 10


def test_a_short_list_repeats_its_last_delay_and_tests_can_shorten_it() -> None:
    config = RetryConfig(delays_seconds=(0.1, 0.2), max_attempts=5, jitter=0)
    assert schedule(config) == [0.1, 0.2, 0.2, 0.2]


def test_attempts_count_from_one() -> None:
    with pytest.raises(ValueError, match="from 1"):
        retry_delay(DEFAULT, 0)
