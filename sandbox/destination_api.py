"""A local JSON upsert API with scripted faults that counts effective writes.

Imitates what :mod:`connectors.destinations.http_upsert` calls, the way an API that
honours idempotency keys behaves (Stripe-style):

- ``PUT /{family}/{entity id}``: upsert of a JSON object; ``200 {"id", "created"}``.
  ``PATCH`` to the same URL merges the object's fields into the entity.
- ``Authorization: Bearer <token>``: 401 otherwise.
- ``Idempotency-Key``: a key whose first request succeeded is answered again from memory
  without writing (a *replay*); a key whose requests failed is processed afresh.
- Scripted faults: a queue of :class:`Reply` per entity, then a queue for any call, then
  200. A reply may carry ``Retry-After``, other headers (rate-limit headers), a body and
  a delay (latency).
- ``X-RateLimit-Remaining`` / ``X-RateLimit-Reset`` on every answer when ``rate_limit``
  is set (a fixed window).

It records the latest calls (time, entity, key, status, request headers; ``keep`` of them,
the totals counted) and every *effective write* (a write performed, at most one per
idempotency key), and counts *regressions*: writes whose ``X-Hookline-Version`` is older
than the version the entity already has. It remembers the latest ``keep_keys``
idempotency keys, as a vendor keeps them for a while (Stripe: 24 hours): an older key
is processed afresh.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from sandbox.serving import KEPT

TOKEN = "test-token"  # noqa: S105 - the stand-in's demo token, not a secret


@dataclass(frozen=True)
class Reply:
    status: int = 200
    retry_after: float | None = None
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None
    delay: float = 0.0


@dataclass(frozen=True)
class Call:
    at: float  # time.monotonic()
    method: str
    entity: str
    key: str
    status: int
    replay: bool
    headers: dict[str, str] = field(default_factory=dict)  # as received (tests read them)


class FakeDestinationApi:
    def __init__(
        self,
        token: str = TOKEN,
        latency: float = 0.0,
        *,
        keep: int = KEPT,
        keep_keys: int = 10 * KEPT,
    ) -> None:
        self.token = token
        self.latency = latency
        self.rate_limit: tuple[int, float] | None = None  # (limit, window seconds)
        self.calls: deque[Call] = deque(maxlen=keep)  # the latest
        self.call_count = 0
        self.replays = 0
        self.state: dict[str, dict[str, Any]] = {}  # entity -> last body written
        self.versions: dict[str, str] = {}
        # Idempotency key -> writes, for the keys remembered (see _remember).
        self.effective_writes: Counter[str] = Counter()
        self.total_effective_writes = 0
        self.writes_by_entity: Counter[str] = Counter()
        self.regressions = 0
        self._keep_keys = keep_keys
        self._by_entity: dict[str, deque[Reply]] = {}
        self._any_call: deque[Reply] = deque()
        self._answered: dict[str, tuple[int, dict[str, Any]]] = {}
        self._window: tuple[float, int] = (0.0, 0)
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- scripting -----------------------------------------------------------------------

    def script_entity(self, entity: str, *replies: Reply) -> None:
        self._by_entity.setdefault(entity, deque()).extend(replies)

    def script_calls(self, *replies: Reply) -> None:
        self._any_call.extend(replies)

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Listen on ``host:port`` (0: any free port); the base URL to call it at."""
        app = web.Application()
        app.router.add_put("/{family}/{entity}", self._put)
        app.router.add_patch("/{family}/{entity}", self._put)
        app.router.add_get("/_stats", self._stats)
        self._runner = web.AppRunner(app, access_log=None)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self.base_url = f"http://{'127.0.0.1' if host == '0.0.0.0' else host}:{port}"  # noqa: S104
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- views ---------------------------------------------------------------------------

    def calls_for(self, entity: str) -> list[Call]:
        return [c for c in self.calls if c.entity == entity]

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "calls": self.call_count,
                "effective_writes": self.total_effective_writes,
                "replays": self.replays,
                "regressions": self.regressions,
            }
        )

    # --- the endpoint --------------------------------------------------------------------

    async def _put(self, request: web.Request) -> web.Response:
        entity = request.match_info["entity"]
        key = request.headers.get("Idempotency-Key", "")
        reply = self._next_reply(entity)
        delay = reply.delay or self.latency
        if delay:
            await asyncio.sleep(delay)
        if request.headers.get("Authorization") != f"Bearer {self.token}":
            reply = Reply(401, body={"error": "unauthorized"})
        if key in self._answered:
            status, body = self._answered[key]
            self._record(request, entity, key, status, replay=True)
            return web.json_response(body, status=status, headers=self._headers(reply))
        if reply.status < 300:
            return await self._write(request, entity, key, reply)
        self._record(request, entity, key, reply.status, replay=False)
        body = reply.body or {"error": f"scripted {reply.status}"}
        return web.json_response(body, status=reply.status, headers=self._headers(reply))

    async def _write(
        self, request: web.Request, entity: str, key: str, reply: Reply
    ) -> web.Response:
        body = await request.json()
        version = request.headers.get("X-Hookline-Version", "")
        if version and self.versions.get(entity, "") > version:
            self.regressions += 1
        created = entity not in self.state
        if request.method == "PATCH":  # a partial snapshot: merge what it carries
            body = {**self.state.get(entity, {}), **body}
        self.state[entity] = body
        self.versions[entity] = max(version, self.versions.get(entity, ""))
        self.effective_writes[key] += 1
        self.total_effective_writes += 1
        self.writes_by_entity[entity] += 1
        answer = {"id": entity, "created": created}
        if key:
            self._remember(key, (reply.status, answer))
        self._record(request, entity, key, reply.status, replay=False)
        return web.json_response(answer, status=reply.status, headers=self._headers(reply))

    def _remember(self, key: str, answer: tuple[int, dict[str, Any]]) -> None:
        """Keep ``key``'s answer for a replay; forget the oldest key beyond ``keep_keys``."""
        self._answered[key] = answer
        if len(self._answered) > self._keep_keys:
            oldest = next(iter(self._answered))
            del self._answered[oldest]
            self.effective_writes.pop(oldest, None)

    def _next_reply(self, entity: str) -> Reply:
        queue = self._by_entity.get(entity)
        if queue:
            return queue.popleft()
        if self._any_call:
            return self._any_call.popleft()
        return Reply()

    def _headers(self, reply: Reply) -> dict[str, str]:
        headers = dict(reply.headers)
        if reply.retry_after is not None:
            headers["Retry-After"] = f"{reply.retry_after:g}"
        if self.rate_limit is not None:
            limit, window = self.rate_limit
            started, used = self._window
            now = time.monotonic()
            if now - started >= window:
                started, used = now, 0
            self._window = (started, used + 1)
            headers["X-RateLimit-Remaining"] = str(max(0, limit - used - 1))
            headers["X-RateLimit-Reset"] = f"{max(0.0, started + window - now):.3f}"
        return headers

    def _record(
        self, request: web.Request, entity: str, key: str, status: int, *, replay: bool
    ) -> None:
        headers = dict(request.headers)
        self.calls.append(
            Call(time.monotonic(), request.method, entity, key, status, replay, headers)
        )
        self.call_count += 1
        self.replays += replay


async def serve(port: int, host: str = "127.0.0.1") -> None:
    """Serve until cancelled: ``python -m sandbox.destination_api PORT [--host HOST]``
    (``hookline run``, the Compose demo's ``demo-api``, benchmarks)."""
    api = FakeDestinationApi()
    await api.start(port, host)
    try:
        await asyncio.Event().wait()
    finally:
        await api.close()


if __name__ == "__main__":
    import argparse

    parser = argparse.ArgumentParser(description="The demo's stand-in destination API.")
    parser.add_argument("port", type=int)
    parser.add_argument("--host", default="127.0.0.1", help="0.0.0.0 in a container.")
    arguments = parser.parse_args()
    asyncio.run(serve(arguments.port, arguments.host))
