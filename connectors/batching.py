"""Micro-batching: concurrent single calls coalesced into one batch request.

The runner calls ``Destination.apply`` once per change, up to ``concurrency`` at a time.
A destination whose API has a batch endpoint puts each change into a
:class:`MicroBatcher` and awaits its own outcome:

- A batch is sent ``window_seconds`` after its first item arrived, or at once when
  ``max_size`` items are waiting, whichever comes first.
- Items with the same ``key`` never share a batch (APIs reject duplicate IDs in one
  batch); the later one waits for the next batch.
- ``send(items)`` returns one outcome per item, in order: a result, or an exception
  instance for that item alone. Each caller gets its own outcome (result returned,
  exception raised), so one bad item fails only its own caller. When ``send`` raises,
  every caller of that batch gets that error.
- A caller that is cancelled while waiting does not cancel the batch of the others.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Hashable, Sequence
from typing import Generic, TypeVar

Item = TypeVar("Item")
Result = TypeVar("Result")

Send = Callable[[list[Item]], Awaitable[Sequence[Result | BaseException]]]


class MicroBatcher(Generic[Item, Result]):
    def __init__(
        self,
        send: Send[Item, Result],
        *,
        max_size: int,
        window_seconds: float,
        key: Callable[[Item], Hashable],
    ) -> None:
        if max_size < 1:
            raise ValueError("max_size must be at least 1")
        self._send = send
        self._max = max_size
        self._window = window_seconds
        self._key = key
        self._waiting: list[tuple[Item, asyncio.Future[Result]]] = []
        self._timer: asyncio.TimerHandle | None = None
        self._running: set[asyncio.Task[None]] = set()

    async def submit(self, item: Item) -> Result:
        """Put ``item`` into the next batch; return its result or raise its error."""
        loop = asyncio.get_running_loop()
        future: asyncio.Future[Result] = loop.create_future()
        self._waiting.append((item, future))
        if len(self._waiting) >= self._max:
            self._flush()
        elif self._timer is None:
            self._timer = loop.call_later(self._window, self._flush)
        return await future  # cancelling it leaves the batch to the others

    def _flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        batch: list[tuple[Item, asyncio.Future[Result]]] = []
        rest: list[tuple[Item, asyncio.Future[Result]]] = []
        keys: set[Hashable] = set()
        for entry in self._waiting:
            key = self._key(entry[0])
            if len(batch) < self._max and key not in keys:
                keys.add(key)
                batch.append(entry)
            else:
                rest.append(entry)
        self._waiting = rest
        if batch:
            task = asyncio.get_running_loop().create_task(self._run(batch))
            self._running.add(task)
            task.add_done_callback(self._running.discard)
        if rest:  # more than one batch's worth, or a duplicate key: another batch follows
            self._timer = asyncio.get_running_loop().call_later(
                0 if len(rest) >= self._max else self._window, self._flush
            )

    async def _run(self, batch: list[tuple[Item, asyncio.Future[Result]]]) -> None:
        try:
            outcomes = list(await self._send([item for item, _ in batch]))
        except BaseException as exc:  # every caller of the batch learns of it
            for _, future in batch:
                if not future.done():
                    future.set_exception(exc)
            if not isinstance(exc, Exception):
                raise
            return
        if len(outcomes) != len(batch):  # a bug in send: fail every caller, loudly
            error = RuntimeError(f"{len(outcomes)} outcomes for a batch of {len(batch)}")
            outcomes = [error] * len(batch)
        for (_, future), outcome in zip(batch, outcomes, strict=True):
            if future.done():
                continue
            if isinstance(outcome, BaseException):
                future.set_exception(outcome)
            else:
                future.set_result(outcome)

    async def close(self) -> None:
        """Wait for the batches in flight (callers waiting on them get their outcomes)."""
        if self._running:
            await asyncio.gather(*self._running, return_exceptions=True)
