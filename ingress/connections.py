"""A bound on the connections one ingress worker holds open.

aiohttp has no connection limit of its own. The public port is therefore served through
:class:`ConnectionLimit`, a protocol factory wrapped around aiohttp's own
(``AppRunner.server``, aiohttp's low-level protocol factory) and handed to asyncio's
``loop.create_server``. A connection counts from ``connection_made`` to ``connection_lost``.
One made while ``limit`` others are open is answered a fixed ``503`` with
``Connection: close`` and closed at once, before anything is read from it: it never gets a
request handler, a buffer or a place in the count. Connections already open are never
evicted for a new one.

Slow clients are bounded separately (``IngressSettings.header_timeout_seconds`` and
``body_timeout_seconds``), so the places counted here free up on their own.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import cast

_BUSY_BODY = b'{"error":"too_many_connections","message":"too many open connections"}'
_BUSY = (
    b"HTTP/1.1 503 Service Unavailable\r\n"
    b"Content-Type: application/json\r\n"
    b"Retry-After: 1\r\n"
    b"Connection: close\r\n"
    b"Content-Length: %d\r\n\r\n" % len(_BUSY_BODY)
) + _BUSY_BODY


class ConnectionLimit:
    """Protocol factory: at most ``limit`` connections served at once by ``factory``'s
    protocols; ``on_refused`` is called for each connection closed for lack of a place."""

    def __init__(
        self,
        factory: Callable[[], asyncio.Protocol],
        limit: int,
        on_refused: Callable[[], object] = lambda: None,
    ) -> None:
        self._factory = factory
        self.limit = limit
        self.open = 0
        self._on_refused = on_refused

    def __call__(self) -> asyncio.Protocol:
        return _Counted(self)

    def _admit(self) -> asyncio.Protocol | None:
        if self.open >= self.limit:
            self._on_refused()
            return None
        self.open += 1
        return self._factory()

    def _release(self) -> None:
        self.open -= 1


class _Counted(asyncio.Protocol):
    """Delegates to the wrapped protocol once admitted; otherwise refuses and closes."""

    __slots__ = ("_inner", "_limit")

    def __init__(self, limit: ConnectionLimit) -> None:
        self._limit = limit
        self._inner: asyncio.Protocol | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._inner = self._limit._admit()
        if self._inner is None:
            # uvloop's transports are not asyncio.WriteTransport subclasses: no isinstance.
            cast(asyncio.WriteTransport, transport).write(_BUSY)
            transport.close()
            return
        self._inner.connection_made(transport)

    def data_received(self, data: bytes) -> None:
        if self._inner is not None:
            self._inner.data_received(data)

    def eof_received(self) -> bool | None:
        return self._inner.eof_received() if self._inner is not None else None

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._inner is not None:
            self._limit._release()
            self._inner.connection_lost(exc)
