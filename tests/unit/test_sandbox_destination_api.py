"""The destination stand-in keeps its memory bounded: it serves ``make run`` and the
Compose demo for as long as they run, and kept every call and every idempotency key."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from sandbox.destination_api import TOKEN, FakeDestinationApi


@pytest.fixture
async def api() -> AsyncIterator[FakeDestinationApi]:
    fake = FakeDestinationApi(keep=3, keep_keys=2)
    await fake.start()
    yield fake
    await fake.close()


async def put(session: aiohttp.ClientSession, api: FakeDestinationApi, n: int, key: str) -> None:
    headers = {"Authorization": f"Bearer {TOKEN}", "Idempotency-Key": key}
    async with session.put(f"{api.base_url}/customer/{n}", json={"n": n}, headers=headers) as r:
        assert r.status == 200


async def test_the_latest_calls_are_kept_and_every_call_is_counted(
    api: FakeDestinationApi,
) -> None:
    async with aiohttp.ClientSession() as session:
        for n in range(5):
            await put(session, api, n, f"k{n}")
        await put(session, api, 4, "k4")  # a replay: the key is among the latest two
        async with session.get(f"{api.base_url}/_stats") as r:
            stats = await r.json()
    assert [call.key for call in api.calls] == ["k3", "k4", "k4"]
    assert (api.call_count, api.replays, api.total_effective_writes) == (6, 1, 5)
    assert stats == {"calls": 6, "effective_writes": 5, "replays": 1, "regressions": 0}


async def test_a_key_older_than_the_latest_remembered_is_processed_afresh(
    api: FakeDestinationApi,
) -> None:
    """As a vendor forgets keys after a while (Stripe: 24 hours)."""
    async with aiohttp.ClientSession() as session:
        for n in range(3):
            await put(session, api, n, f"k{n}")
        await put(session, api, 0, "k0")  # forgotten: k1 and k2 are the latest two
        await put(session, api, 2, "k2")  # remembered: answered again, not written
    assert api.writes_by_entity["0"] == 2
    assert api.writes_by_entity["2"] == 1
    assert set(api.effective_writes) == {"k2", "k0"}  # the keys it remembers
    assert (api.total_effective_writes, api.replays) == (4, 1)
