"""The same scenarios against every registered source adapter, each on its sandbox fake.

Every adapter must: read every record across pages, oldest first; honour ``since``
(inclusive lower bound on the modification time); give bodies that the processors'
normaliser of its provider turns into canonical events (not dead letters); map a 429 to
``PollThrottled``. An adapter registered without a fake in ``tests/fakes/poll_sources.py``
fails ``test_every_registered_adapter_has_a_fake``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime

import pytest

from pollers.adapters import REGISTRY
from pollers.base import PolledRecord, PollThrottled, SourceAdapter
from processors.normalisers import RawEvent, normalise
from sandbox.destination_api import Reply as ShopReply
from sandbox.hubspot import Reply as CrmReply
from schemas.raw import RawHeaders
from tests.fakes.poll_sources import HubSpotSource, PollSource, poll_source

KINDS = ["hubspot", "shopify"]


def test_every_registered_adapter_has_a_fake() -> None:
    assert sorted(REGISTRY) == KINDS


@asynccontextmanager
async def adapter_on(kind: str, seeded: int) -> AsyncIterator[tuple[PollSource, SourceAdapter]]:
    """The fake of ``kind`` with ``seeded`` records, and its adapter; both closed after."""
    async with poll_source(kind) as source:
        source.seed(seeded)
        adapter = REGISTRY[source.adapter_type].build(source.config)
        try:
            yield source, adapter
        finally:
            await adapter.close()


async def read_all(
    adapter: SourceAdapter, since: datetime | None, limit: int = 7
) -> list[PolledRecord]:
    records: list[PolledRecord] = []
    after: str | None = None
    while True:
        page = await adapter.fetch(since, after, limit)
        records += page.records
        if page.next_after is None:
            return records
        after = page.next_after


@pytest.mark.parametrize("kind", KINDS)
async def test_pages_cover_every_record_oldest_first(kind: str) -> None:
    async with adapter_on(kind, 25) as (_, adapter):
        records = await read_all(adapter, None)
    assert len({r.entity_id for r in records}) == 25
    stamps = [r.updated_at for r in records]
    assert stamps == sorted(stamps)


@pytest.mark.parametrize("kind", KINDS)
async def test_since_keeps_only_records_modified_at_or_after_it(kind: str) -> None:
    async with adapter_on(kind, 10) as (source, adapter):
        everything = await read_all(adapter, None)
        source.change(3)
        source.change(6)
        newest = max(r.updated_at for r in everything)
        later = await read_all(adapter, newest)
    changed = {r.entity_id for r in later if r.updated_at > newest}
    assert len(changed) == 2
    assert all(r.updated_at >= newest for r in later)


@pytest.mark.parametrize("kind", KINDS)
async def test_bodies_normalise_with_the_providers_normaliser(kind: str) -> None:
    async with adapter_on(kind, 3) as (_, adapter):
        records = await read_all(adapter, None)
    for record in records:
        headers = RawHeaders(
            source=kind,
            provider=adapter.provider,
            event_id=f"poll:{record.entity_id}:{record.version}",
            event_type=record.event_type,
            received_at=datetime.now(UTC),
            content_type="application/json",
            request_id="poll:test",
        )
        events = normalise(RawEvent(headers, record.body))
        assert events[0].family in {"customer", "order"}
        assert events[0].data.updated_at == record.updated_at


@pytest.mark.parametrize("kind", KINDS)
async def test_rate_limited_answer_is_poll_throttled(kind: str) -> None:
    async with adapter_on(kind, 0) as (source, adapter):
        if isinstance(source, HubSpotSource):
            source.fake.script(CrmReply(status=429, retry_after=2))
        else:
            source.fake.script_calls(ShopReply(status=429, retry_after=2))  # type: ignore[attr-defined]
        with pytest.raises(PollThrottled) as caught:
            await adapter.fetch(None, None, 5)
    assert caught.value.retry_after == 2
