"""The retry schedule: pure functions of the configuration, the attempt and a random draw.

Attempt ``n`` (1-based) failing waits ``delays_seconds[n-1]`` (the last delay repeats if
the list is short), spread by ``± jitter`` so that records failing together do not retry
together. A ``Retry-After`` from the destination is a floor: the wait is never shorter,
and only spreads upwards. Every wait is capped at ``max_delay_seconds``. After
``max_attempts`` failed attempts the change is dead-lettered.
"""

from __future__ import annotations

from collections.abc import Callable

from connectors.config import RetryConfig


def should_retry(config: RetryConfig, failed_attempt: int) -> bool:
    """Whether a change whose attempt ``failed_attempt`` failed gets another one."""
    return failed_attempt < config.max_attempts


def retry_delay(
    config: RetryConfig,
    failed_attempt: int,
    retry_after: float | None = None,
    draw: Callable[[], float] | None = None,
) -> float:
    """Seconds to wait before the next attempt. ``draw`` returns a float in [0, 1)."""
    if failed_attempt < 1:
        raise ValueError("attempts count from 1")
    delays = config.delays_seconds
    base = delays[min(failed_attempt, len(delays)) - 1]
    spread = draw() if draw is not None else 0.5
    delay = base * (1 + config.jitter * (2 * spread - 1))
    if retry_after is not None and retry_after > delay:
        delay = retry_after * (1 + config.jitter * spread)
    return min(delay, config.max_delay_seconds)


def schedule(config: RetryConfig) -> list[float]:
    """The waits between attempts without jitter: ``[1, 4, 16, 64]`` by default."""
    return [retry_delay(config, n) for n in range(1, config.max_attempts)]
