"""MicroBatcher: concurrent calls coalesced into batches, each caller with its own outcome."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence

import pytest

from connectors.batching import MicroBatcher


class Recorder:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    async def send(self, items: list[str]) -> Sequence[str | BaseException]:
        self.batches.append(items)
        return [ValueError(i) if i.startswith("bad") else i.upper() for i in items]


def batcher(recorder: Recorder, max_size: int = 3) -> MicroBatcher[str, str]:
    return MicroBatcher(recorder.send, max_size=max_size, window_seconds=0.01, key=str.lower)


async def test_concurrent_calls_share_batches_of_at_most_max_size() -> None:
    recorder = Recorder()
    shared = batcher(recorder)
    results = await asyncio.gather(*(shared.submit(f"i{n}") for n in range(7)))
    assert results == [f"I{n}" for n in range(7)]
    assert [len(b) for b in recorder.batches] == [3, 3, 1]


async def test_a_bad_item_fails_only_its_caller() -> None:
    recorder = Recorder()
    shared = batcher(recorder)
    outcomes = await asyncio.gather(
        shared.submit("a"), shared.submit("bad"), shared.submit("c"), return_exceptions=True
    )
    assert outcomes[0] == "A"
    assert isinstance(outcomes[1], ValueError)
    assert outcomes[2] == "C"
    assert len(recorder.batches) == 1


async def test_the_same_key_never_shares_a_batch() -> None:
    recorder = Recorder()
    shared = batcher(recorder)
    await asyncio.gather(shared.submit("x"), shared.submit("X"), shared.submit("y"))
    assert recorder.batches == [["x", "y"], ["X"]]


async def test_a_failing_send_fails_every_caller_of_that_batch() -> None:
    async def broken(items: list[str]) -> Sequence[str | BaseException]:
        raise ConnectionError("down")

    shared = MicroBatcher(broken, max_size=5, window_seconds=0.01, key=str)
    outcomes = await asyncio.gather(shared.submit("a"), shared.submit("b"), return_exceptions=True)
    assert all(isinstance(o, ConnectionError) for o in outcomes)


async def test_a_cancelled_caller_leaves_the_batch_to_the_others() -> None:
    recorder = Recorder()
    shared = batcher(recorder, max_size=10)
    leaving = asyncio.create_task(shared.submit("a"))
    staying = asyncio.create_task(shared.submit("b"))
    await asyncio.sleep(0)
    leaving.cancel()
    assert await staying == "B"
    with pytest.raises(asyncio.CancelledError):
        await leaving
