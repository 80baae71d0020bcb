"""The circuit breaker's state machine, on an injected clock."""

from __future__ import annotations

import asyncio

from connectors.breaker import BreakerGate, BreakerState, CircuitBreaker, Permit
from connectors.config import BreakerConfig

CONFIG = BreakerConfig(
    failure_threshold=5,
    window_seconds=600,
    cooldown_seconds=300,
    cooldown_multiplier=2,
    max_cooldown_seconds=1000,
)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def breaker(clock: Clock) -> tuple[CircuitBreaker, list[tuple[str, str]]]:
    moves: list[tuple[str, str]] = []
    machine = CircuitBreaker(CONFIG, clock, lambda a, b, _cooldown: moves.append((a.name, b.name)))
    return machine, moves


def fail(machine: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        permit = machine.try_acquire()
        assert permit is not None
        machine.record_failure(permit)


def test_five_consecutive_failures_open_it_and_it_refuses_calls() -> None:
    clock = Clock()
    machine, moves = breaker(clock)
    fail(machine, 4)
    before = machine.state
    fail(machine, 1)
    assert (before, machine.state) == (BreakerState.CLOSED, BreakerState.OPEN)
    assert moves == [("CLOSED", "OPEN")]
    clock.now += 299
    assert machine.try_acquire() is None


def test_a_success_resets_the_count_and_old_failures_leave_the_window() -> None:
    clock = Clock()
    machine, _ = breaker(clock)
    fail(machine, 4)
    machine.record_success(Permit(probe=False))
    fail(machine, 4)
    assert machine.state is BreakerState.CLOSED
    clock.now += 601  # those four are outside the window now
    fail(machine, 4)
    assert machine.state is BreakerState.CLOSED


def test_after_the_cooldown_exactly_one_probe_and_its_success_closes_it() -> None:
    clock = Clock()
    machine, moves = breaker(clock)
    fail(machine, 5)
    clock.now += 300
    probe = machine.try_acquire()
    assert probe == Permit(probe=True)
    assert machine.try_acquire() is None  # one probe at a time
    machine.record_success(probe)
    assert machine.state is BreakerState.CLOSED
    assert moves == [("CLOSED", "OPEN"), ("OPEN", "HALF_OPEN"), ("HALF_OPEN", "CLOSED")]


def test_a_failed_probe_extends_the_cooldown_growing_and_capped() -> None:
    clock = Clock()
    machine, _ = breaker(clock)
    fail(machine, 5)
    waits = []
    for _ in range(4):
        opened = clock.now
        clock.now = machine.probe_at() or 0
        waits.append(clock.now - opened)
        probe = machine.try_acquire()
        assert probe is not None
        machine.record_failure(probe)
    assert waits == [300, 600, 1000, 1000]


def test_results_of_calls_let_through_before_it_opened_are_ignored() -> None:
    clock = Clock()
    machine, _ = breaker(clock)
    early = machine.try_acquire()
    assert early is not None
    fail(machine, 5)
    machine.record_success(early)
    assert machine.state is BreakerState.OPEN


def test_a_cancelled_probe_frees_the_probe_slot() -> None:
    clock = Clock()
    machine, _ = breaker(clock)
    fail(machine, 5)
    clock.now += 300
    probe = machine.try_acquire()
    assert probe is not None
    machine.release(probe)
    assert machine.try_acquire() == Permit(probe=True)


async def test_the_gate_makes_callers_wait_for_the_cooldown_then_one_probe() -> None:
    loop = asyncio.get_running_loop()
    config = BreakerConfig(failure_threshold=1, cooldown_seconds=0.2)
    gate = BreakerGate(config, loop.time)
    gate.breaker.record_failure(await gate.acquire())
    assert gate.is_open
    started = loop.time()
    waiters = {asyncio.create_task(gate.acquire()) for _ in range(2)}
    done, pending = await asyncio.wait(waiters, return_when=asyncio.FIRST_COMPLETED)
    assert loop.time() - started >= 0.19
    [probe] = [task.result() for task in done]
    assert probe.probe
    [other] = pending
    await asyncio.sleep(0.05)
    assert not other.done()  # it waits for the probe's verdict
    gate.breaker.record_success(probe)
    assert await asyncio.wait_for(other, 1) == Permit(probe=False)
