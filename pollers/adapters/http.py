"""One JSON-over-HTTP call for the adapters, its failures mapped to the adapter errors in
this one place: 429 (or a vendor's throttle body) -> :class:`PollThrottled`; any other
non-2xx, a timeout or a connection failure -> :class:`PollError` naming the status only."""

from __future__ import annotations

from typing import Any

import aiohttp

from pollers.base import PollError, PollThrottled

DEFAULT_RETRY_AFTER_SECONDS = 10.0


class JsonClient:
    """An aiohttp session opened on first use; ``close`` ends it."""

    def __init__(self, headers: dict[str, str], timeout_seconds: float) -> None:
        self._headers = headers
        self._timeout = aiohttp.ClientTimeout(total=timeout_seconds)
        self._session: aiohttp.ClientSession | None = None

    async def post(self, url: str, body: dict[str, Any]) -> Any:
        if self._session is None:
            self._session = aiohttp.ClientSession(headers=self._headers, timeout=self._timeout)
        try:
            async with self._session.post(url, json=body) as response:
                if response.status == 429:
                    raise PollThrottled(_retry_after(response.headers.get("Retry-After")))
                if response.status >= 300:
                    raise PollError(f"HTTP {response.status}")
                return await response.json(content_type=None)
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise PollError(type(exc).__name__) from None

    async def close(self) -> None:
        if self._session is not None:
            await self._session.close()
            self._session = None


def _retry_after(value: str | None) -> float:
    try:
        return max(float(value), 0.0) if value else DEFAULT_RETRY_AFTER_SECONDS
    except ValueError:
        return DEFAULT_RETRY_AFTER_SECONDS
