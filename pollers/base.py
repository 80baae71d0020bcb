"""The poller interface: one module per source adapter behind :class:`SourceAdapter`.

An adapter knows its API, not Kafka or PostgreSQL: given a lower bound on the
modification time (``since``, inclusive; ``None``: the whole history) and the API's own
page token (``after``), it fetches one page of records **ordered by modification time,
oldest first**, and says where the next page starts. The runner
(:mod:`pollers.runner`) owns cursors, change detection, rate limits, Kafka and leases.

Every :class:`PolledRecord` carries a body in the shape of the provider's *webhook* for
the same change (``event_type`` as the webhook's topic), so the processors normalise it
with the provider's own normaliser.

Errors of the adapter layer::

    PollError(reason)       the API refused or failed; the run stops, its cursor stays
    └── PollThrottled(s)    the API asked us to wait ``retry_after`` seconds
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol


class PollError(Exception):
    """A page could not be fetched; ``reason`` never holds a secret or a body."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class PollThrottled(PollError):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"throttled for {retry_after:g} s")
        self.retry_after = retry_after


@dataclass(frozen=True, slots=True)
class PolledRecord:
    """One entity as the API returned it."""

    entity_id: str  # the provider's ID, unique within the source
    updated_at: datetime  # the API's modification time: the version
    body: bytes  # in the provider's webhook shape
    event_type: str  # the provider's webhook topic for this body

    @property
    def version(self) -> str:
        return self.updated_at.isoformat()


@dataclass(frozen=True, slots=True)
class Page:
    records: tuple[PolledRecord, ...]
    next_after: str | None  # None: this was the last page for this ``since``


class SourceAdapter(Protocol):
    """What the registry builds from a poller's ``api`` table."""

    #: The provider type written in the ``hookline-provider`` header.
    provider: str

    async def fetch(self, since: datetime | None, after: str | None, limit: int) -> Page:
        """One page of records modified at or after ``since``, oldest first.

        Raises :class:`PollError` (or :class:`PollThrottled`)."""
        ...

    async def close(self) -> None: ...
