"""Per-client request rates: a token bucket per client, in this process's memory.

A client is an API key or a user (``Principal.actor``), or the remote address for calls
without credentials (sign-in). Each bucket holds ``burst`` tokens and refills at ``rate``
per second; a call without a token is refused (429) with ``Retry-After``, the whole
seconds until one is back. Several admin processes each count on their own; a restart
forgets. At most ``max_clients`` buckets are kept: full ones are dropped first (a full
bucket is the same as none).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable

from admin.errors import ApiError


class ClientLimiter:
    def __init__(
        self,
        rate: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
        max_clients: int = 10_000,
    ) -> None:
        self._rate = rate
        self._burst = float(burst)
        self._clock = clock
        self._max = max_clients
        self._buckets: dict[str, tuple[float, float]] = {}  # client -> (tokens, at)

    def take(self, client: str) -> None:
        """Spend a token of ``client``'s bucket, or raise the 429."""
        now = self._clock()
        tokens, at = self._buckets.get(client, (self._burst, now))
        tokens = min(self._burst, tokens + (now - at) * self._rate)
        if tokens < 1:
            self._buckets[client] = (tokens, now)
            wait = math.ceil((1 - tokens) / self._rate)
            raise ApiError(
                429,
                "rate_limited",
                f"too many requests; retry in {wait} s",
                headers={"Retry-After": str(wait)},
            )
        self._buckets[client] = (tokens - 1, now)
        if len(self._buckets) > self._max:
            self._prune(now)

    def _prune(self, now: float) -> None:
        full = [
            c for c, (t, at) in self._buckets.items() if t + (now - at) * self._rate >= self._burst
        ]
        for client in full or list(self._buckets)[: len(self._buckets) - self._max]:
            del self._buckets[client]
