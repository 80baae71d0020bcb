"""Running a stand-in API as a process: ``python -m sandbox.<name> PORT [--host HOST]``."""

from __future__ import annotations

import argparse
import asyncio
from collections.abc import Callable
from typing import Protocol

from aiohttp import web

#: The calls (and messages) a stand-in keeps for its tests to read: the latest ones, in a
#: ``deque(maxlen=KEPT)``. A stand-in also serves ``make run`` and the Compose demo for as
#: long as they run: keeping every call grew with the sample traffic. Totals are counted.
KEPT = 10_000


class StandIn(Protocol):
    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str: ...

    async def close(self) -> None: ...


async def _health(_request: web.Request) -> web.Response:
    return web.json_response({"ok": True})


async def listen(app: web.Application, port: int, host: str) -> tuple[web.AppRunner, str]:
    """Start ``app`` on ``host:port`` (0: any free port); its runner and base URL. Every
    stand-in also answers ``GET /_health`` with 200 once listening (a health check's
    probe; no vendor API has this path)."""
    app.router.add_get("/_health", _health)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    shown = "127.0.0.1" if host == "0.0.0.0" else host  # noqa: S104 - a bind-all address
    return runner, f"http://{shown}:{port}"


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
