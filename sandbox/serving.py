"""Running a stand-in API as a process: ``python -m sandbox.<name> PORT [--host HOST]``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Protocol


class StandIn(Protocol):
    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str: ...

    async def close(self) -> None: ...


async def serve(stand_in: StandIn, port: int, host: str = "127.0.0.1") -> None:
    """Serve until cancelled."""
    await stand_in.start(port, host)
    try:
        await asyncio.Event().wait()
    finally:
        await stand_in.close()


def main(description: str, make: Callable[[], StandIn], argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container.")
    arguments = parser.parse_args(argv)
    asyncio.run(serve(make(), arguments.port, arguments.host))
