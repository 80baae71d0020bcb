"""The connector layer's errors, and the one place where HTTP outcomes are mapped onto them.

::

    ConnectorError
    ├── DeliveryError(status, body, rate_limit)    raised by Destination.apply
    │   ├── RetriableError(retry_after)   408, 429, 500, 502, 503, 504, a destination's
    │   │                                 documented extras, timeouts, connection errors
    │   │                                 -> retry topic with backoff (honouring
    │   │                                 Retry-After); dead letter after the last attempt;
    │   │                                 while the breaker is open, consumption pauses and
    │   │                                 no attempt is spent
    │   └── PermanentError                every other status (other 4xx, 1xx, 3xx, 501,
    │                                     505, …), a change the destination cannot express
    │                                     -> dead letter at once, never retried
    └── ConfigError                       an invalid connectors file -> exit at start

408 counts as a timeout (the server's own). 3xx is permanent because redirects are not
followed: an upsert that gets redirected is misconfigured. Statuses are mapped by
:func:`classify_status` and client exceptions by :func:`error_for_exception`; nothing
else in Hookline decides whether a call is retried.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import aiohttp

from hookline.config_files import ConfigFileError

#: Retriable for every destination. A destination adds its vendor's documented extras.
RETRIABLE_STATUSES = frozenset({408, 429, 500, 502, 503, 504})
MAX_BODY_CHARS = 1024


class Category(StrEnum):
    """How one external call ended; also the ``error category`` of the audit log."""

    SUCCESS = "success"
    RETRIABLE = "retriable"
    PERMANENT = "permanent"


@dataclass(frozen=True, slots=True)
class RateLimitHint:
    """What a destination told us about its rate limit, from headers or body."""

    remaining: float | None = None
    reset_seconds: float | None = None
    retry_after: float | None = None


class ConnectorError(Exception):
    """Base of the connector layer's errors."""


class ConfigError(ConnectorError, ConfigFileError):
    """The connectors file is invalid. The message never contains a secret value."""


class DeliveryError(ConnectorError):
    """A change was not applied. ``body`` is truncated to 1 KB."""

    def __init__(
        self,
        message: str,
        *,
        status: int | None = None,
        body: str | None = None,
        rate_limit: RateLimitHint | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.body = body[:MAX_BODY_CHARS] if body is not None else None
        self.rate_limit = rate_limit


class RetriableError(DeliveryError):
    """Transient: try again later, not before ``retry_after`` seconds when given."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        body: str | None = None,
        rate_limit: RateLimitHint | None = None,
    ) -> None:
        super().__init__(message, status=status, body=body, rate_limit=rate_limit)
        self.retry_after = retry_after


class PermanentError(DeliveryError):
    """Trying again cannot help: the change is dead-lettered at once."""


def classify_status(status: int, extra_retriable: frozenset[int] = frozenset()) -> Category:
    """The category of an HTTP status (100-599); ``extra_retriable`` are vendor extras."""
    if not 100 <= status <= 599:
        raise ValueError(f"not an HTTP status: {status}")
    if 200 <= status <= 299:
        return Category.SUCCESS
    if status in RETRIABLE_STATUSES or status in extra_retriable:
        return Category.RETRIABLE
    return Category.PERMANENT


def error_for_status(
    status: int,
    body: str,
    *,
    retry_after: float | None = None,
    rate_limit: RateLimitHint | None = None,
    extra_retriable: frozenset[int] = frozenset(),
) -> DeliveryError | None:
    """The error a response stands for, or None for a success."""
    category = classify_status(status, extra_retriable)
    if category is Category.SUCCESS:
        return None
    message = f"HTTP {status}"
    if category is Category.RETRIABLE:
        return RetriableError(
            message, retry_after=retry_after, status=status, body=body, rate_limit=rate_limit
        )
    return PermanentError(message, status=status, body=body, rate_limit=rate_limit)


#: Client exceptions, most specific first; the first ``isinstance`` match decides.
EXCEPTION_CATEGORIES: tuple[tuple[type[BaseException], Category], ...] = (
    (TimeoutError, Category.RETRIABLE),  # asyncio/aiohttp timeouts, ServerTimeoutError
    (aiohttp.ClientConnectionError, Category.RETRIABLE),  # refused, reset, DNS, disconnect
    (aiohttp.ClientPayloadError, Category.RETRIABLE),  # the response was cut short
    (ConnectionError, Category.RETRIABLE),
    (aiohttp.ClientError, Category.PERMANENT),  # invalid URL, redirects, bad headers
)


def category_of_exception(exc: BaseException) -> Category:
    for kind, category in EXCEPTION_CATEGORIES:
        if isinstance(exc, kind):
            return category
    return Category.PERMANENT


def error_for_exception(exc: BaseException) -> DeliveryError:
    """The delivery error a client exception stands for (no HTTP status)."""
    if isinstance(exc, DeliveryError):
        return exc
    message = f"{type(exc).__name__}: {exc}"[:MAX_BODY_CHARS]
    if category_of_exception(exc) is Category.RETRIABLE:
        return RetriableError(message)
    return PermanentError(message)
