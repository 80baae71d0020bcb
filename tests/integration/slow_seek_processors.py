"""``python -m tests.integration.slow_seek_processors``: the processors worker, its
consumer's seek to the committed offsets made slow (``SLOW_SEEK_SECONDS``).

A fault injection for the tests: a slow answer from the group coordinator widens the window
in which faust-streaming has resumed the stream partitions but not yet sought them back to
their committed offsets (see processors.recovery). The broker is real; only the wait before
the seek is added.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from typing import Any

from faust.transport.drivers import aiokafka as faust_aiokafka

from hookline.settings import Settings
from processors.main import run


def slow_down_seeks(seconds: float) -> None:
    seek = faust_aiokafka.Consumer.seek_to_committed

    async def slow_seek_to_committed(self: Any) -> Mapping[Any, int]:
        await asyncio.sleep(seconds)
        return await seek(self)

    faust_aiokafka.Consumer.seek_to_committed = slow_seek_to_committed  # type: ignore[method-assign]


if __name__ == "__main__":
    slow_down_seeks(float(os.environ["SLOW_SEEK_SECONDS"]))
    run(Settings())
