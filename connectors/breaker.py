"""The circuit breaker of one destination: a state machine on an injected clock.

::

            failure_threshold failures
            within window_seconds
   CLOSED ───────────────────────────▶ OPEN ◀─────────────┐
     ▲                                  │ cooldown over    │ probe failed:
     │ probe succeeded                  ▼                  │ cooldown * multiplier
     └──────────────────────────── HALF_OPEN ─────────────┘ (capped)
                                   (one probe call)

A call asks for a :class:`Permit` first. CLOSED grants every call; OPEN grants none until
the cooldown is over, then exactly one probe (HALF_OPEN); the probe's result decides.
Results of calls permitted before the breaker opened are ignored once it is open: only
the probe speaks for the destination. A success resets the failure count; a permanent
error is a success here (the destination answered). Each transition is reported to
``on_transition`` (the runner logs it and sets the state gauge).

:class:`BreakerGate` is the asyncio side: ``await acquire()`` waits while the breaker
refuses, waking on the cooldown's end or on a transition.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from enum import IntEnum

from connectors.config import BreakerConfig


class BreakerState(IntEnum):
    CLOSED = 0
    HALF_OPEN = 1
    OPEN = 2


@dataclass(frozen=True, slots=True)
class Permit:
    probe: bool


Transition = Callable[[BreakerState, BreakerState, float], None]


class CircuitBreaker:
    def __init__(
        self,
        config: BreakerConfig,
        clock: Callable[[], float],
        on_transition: Transition | None = None,
    ) -> None:
        self._config = config
        self._clock = clock
        self._on_transition = on_transition
        self._state = BreakerState.CLOSED
        self._failures: deque[float] = deque()
        self._cooldown = config.cooldown_seconds
        self._open_until = 0.0

    @property
    def state(self) -> BreakerState:
        return self._state

    def probe_at(self) -> float | None:
        """When the next probe is allowed (OPEN), else None."""
        return self._open_until if self._state is BreakerState.OPEN else None

    def try_acquire(self) -> Permit | None:
        if self._state is BreakerState.CLOSED:
            return Permit(probe=False)
        if self._state is BreakerState.OPEN and self._clock() >= self._open_until:
            self._move(BreakerState.HALF_OPEN)
            return Permit(probe=True)
        return None

    def record_success(self, permit: Permit) -> None:
        if permit.probe:
            self._cooldown = self._config.cooldown_seconds
            self._move(BreakerState.CLOSED)
        if self._state is BreakerState.CLOSED:
            self._failures.clear()

    def record_failure(self, permit: Permit) -> None:
        now = self._clock()
        if permit.probe:
            self._cooldown = min(
                self._cooldown * self._config.cooldown_multiplier,
                self._config.max_cooldown_seconds,
            )
            self._open(now)
            return
        if self._state is not BreakerState.CLOSED:
            return
        self._failures.append(now)
        while self._failures and now - self._failures[0] > self._config.window_seconds:
            self._failures.popleft()
        if len(self._failures) >= self._config.failure_threshold:
            self._open(now)

    def release(self, permit: Permit) -> None:
        """A permitted call ended without a result (cancelled): free the probe slot."""
        if permit.probe and self._state is BreakerState.HALF_OPEN:
            self._open_until = self._clock()
            self._move(BreakerState.OPEN)

    def _open(self, now: float) -> None:
        self._failures.clear()
        self._open_until = now + self._cooldown
        self._move(BreakerState.OPEN)

    def _move(self, state: BreakerState) -> None:
        previous, self._state = self._state, state
        if self._on_transition is not None:
            self._on_transition(previous, state, self._cooldown)


class BreakerGate:
    """Awaitable permits from a :class:`CircuitBreaker` (one per connector instance)."""

    def __init__(
        self,
        config: BreakerConfig,
        clock: Callable[[], float],
        on_transition: Transition | None = None,
    ) -> None:
        self._clock = clock
        self._changed = asyncio.Event()
        self._on_transition = on_transition
        self.breaker = CircuitBreaker(config, clock, self._transition)

    def _transition(self, previous: BreakerState, state: BreakerState, cooldown: float) -> None:
        self._changed.set()  # wake every waiter
        self._changed = asyncio.Event()
        if self._on_transition is not None:
            self._on_transition(previous, state, cooldown)

    async def acquire(self) -> Permit:
        """A permit, as soon as the breaker grants one."""
        while True:
            permit = self.breaker.try_acquire()
            if permit is not None:
                return permit
            changed = self._changed
            probe_at = self.breaker.probe_at()
            timeout = None if probe_at is None else max(0.0, probe_at - self._clock())
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(changed.wait(), timeout)

    @property
    def is_open(self) -> bool:
        return self.breaker.state is not BreakerState.CLOSED
