"""Prometheus plumbing shared by the services.

Metrics are always created on a registry passed in (never the global default), so each
test builds a fresh one and nothing happens at import time. Names: ``hookline_`` prefix,
base units, ``_total`` for counters, bounded label values.
"""

from __future__ import annotations

from aiohttp import web
from aiohttp.typedefs import Handler
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


def new_registry() -> CollectorRegistry:
    return CollectorRegistry(auto_describe=True)


def metrics_handler(registry: CollectorRegistry) -> Handler:
    async def handle(_request: web.Request) -> web.Response:
        body = generate_latest(registry)
        return web.Response(body=body, headers={"Content-Type": CONTENT_TYPE_LATEST})

    return handle
