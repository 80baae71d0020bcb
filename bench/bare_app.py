"""The ceiling: a bare aiohttp app that reads the body and answers 200, nothing else."""

from __future__ import annotations

import sys

import uvloop
from aiohttp import web


async def accept(request: web.Request) -> web.Response:
    await request.read()
    return web.json_response({"status": "accepted"})


def main() -> None:
    app = web.Application()
    app.router.add_post("/webhooks/{source}", accept)
    # Same event loop as the ingress (uvloop), so the comparison is of the work alone.
    web.run_app(
        app,
        host="127.0.0.1",
        port=int(sys.argv[1]),
        access_log=None,
        print=None,
        loop=uvloop.new_event_loop(),
    )


if __name__ == "__main__":
    main()
