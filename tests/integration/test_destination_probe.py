"""The health probe of each destination against its stand-in: up when the API answers,
``hookline_destination_up`` 0 when it answers 503 or cannot be reached."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from connectors.destinations.base import DestinationContext, prober_of
from connectors.destinations.http_upsert import HttpUpsertConfig
from connectors.destinations.http_upsert import create as create_upsert
from connectors.destinations.hubspot import HubSpotConfig, PrivateAppAuth
from connectors.destinations.hubspot import create as create_hubspot
from connectors.destinations.shopify import ShopifyConfig
from connectors.destinations.shopify import create as create_shopify
from connectors.destinations.warehouse import WarehouseConfig
from connectors.destinations.warehouse import create as create_warehouse
from connectors.http import HttpClient
from connectors.metrics import ConnectorMetrics
from connectors.probe import Probe, probe_once, probing
from hookline.metrics import new_registry
from sandbox import destination_api, hubspot, shopify
from sandbox.destination_api import FakeDestinationApi, Reply
from sandbox.hubspot import FakeHubSpot
from sandbox.shopify import FakeShopify


@pytest.fixture
def metrics() -> ConnectorMetrics:
    return ConnectorMetrics(new_registry())


@pytest.fixture
async def http(metrics: ConnectorMetrics) -> AsyncIterator[HttpClient]:
    client = HttpClient("probed", metrics, timeout_seconds=5)
    yield client
    await client.close()


@pytest.fixture
def pool(autocommit_pool: AsyncConnectionPool) -> AsyncConnectionPool:
    return autocommit_pool


def up(metrics: ConnectorMetrics) -> float:
    return float(metrics.destination_up.labels("probed")._value.get())


def probe(destination: object) -> Probe:
    hook = prober_of(destination)  # type: ignore[arg-type]
    assert hook is not None
    return hook


async def check(hook: Probe, metrics: ConnectorMetrics) -> float:
    await probe_once("probed", hook, metrics, timeout_seconds=5)
    return up(metrics)


async def test_hubspot_probe_is_up_then_down_on_503(
    http: HttpClient, pool: AsyncConnectionPool, metrics: ConnectorMetrics
) -> None:
    api = FakeHubSpot()
    await api.start()
    try:
        auth = PrivateAppAuth(token=SecretStr(hubspot.PRIVATE_TOKEN))
        config = HubSpotConfig(base_url=api.base_url, auth=auth)
        hook = probe(create_hubspot(config, DestinationContext("probed", http, pool)))
        assert await check(hook, metrics) == 1
        assert [(c.method, c.path) for c in api.calls] == [("GET", "/crm/v3/objects/contacts")]
        api.script(hubspot.Reply(503))
        assert await check(hook, metrics) == 0
        assert await check(hook, metrics) == 1  # recovered
    finally:
        await api.close()


async def test_shopify_probe_is_up_then_down_on_503(
    http: HttpClient, pool: AsyncConnectionPool, metrics: ConnectorMetrics
) -> None:
    shop = FakeShopify()
    await shop.start()
    try:
        config = ShopifyConfig(base_url=shop.base_url, access_token=SecretStr(shopify.TOKEN))
        hook = probe(create_shopify(config, DestinationContext("probed", http, pool)))
        assert await check(hook, metrics) == 1
        assert shop.calls[-1].fields == ("shop",)
        shop.script_calls(Reply(503))
        assert await check(hook, metrics) == 0
    finally:
        await shop.close()


async def test_http_upsert_probe_is_up_then_down_when_503_or_unreachable(
    http: HttpClient,
    pool: AsyncConnectionPool,
    metrics: ConnectorMetrics,
    fake_api: FakeDestinationApi,
) -> None:
    api = fake_api
    token = SecretStr(destination_api.TOKEN)
    hook = probe(
        create_upsert(
            HttpUpsertConfig(base_url=api.base_url, token=token),
            DestinationContext("probed", http, pool),
        )
    )
    assert await check(hook, metrics) == 1  # the root is a 404: the API answers
    await api.close()
    assert await check(hook, metrics) == 0  # connection refused

    failing = web.Application()
    failing.router.add_get("/", _unavailable)
    runner = web.AppRunner(failing)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    try:
        config = HttpUpsertConfig(base_url=f"http://127.0.0.1:{port}/", token=token)
        hook = probe(create_upsert(config, DestinationContext("probed", http, pool)))
        assert await check(hook, metrics) == 0
    finally:
        await runner.cleanup()


async def _unavailable(_request: web.Request) -> web.Response:
    return web.json_response({"error": "maintenance"}, status=503)


async def test_warehouse_probe_selects_one(
    http: HttpClient, pool: AsyncConnectionPool, metrics: ConnectorMetrics
) -> None:
    hook = probe(create_warehouse(WarehouseConfig(), DestinationContext("probed", http, pool)))
    assert await check(hook, metrics) == 1


async def test_probing_exports_in_the_background_and_stops_with_its_context(
    metrics: ConnectorMetrics,
) -> None:
    calls = 0
    third = asyncio.Event()

    async def counted() -> None:
        nonlocal calls
        calls += 1
        if calls == 3:
            third.set()

    async with probing("probed", counted, metrics, interval_seconds=0.01, timeout_seconds=1):
        await third.wait()
    stopped_at = calls
    await asyncio.sleep(0.05)
    assert calls == stopped_at
    assert up(metrics) == 1
    assert metrics.probe_duration.labels("probed")._value.get() >= 0


async def test_no_probe_without_an_interval(metrics: ConnectorMetrics) -> None:
    async def never() -> None:
        raise AssertionError("probed although off")

    async with probing("probed", never, metrics, interval_seconds=0, timeout_seconds=1):
        await asyncio.sleep(0.02)
