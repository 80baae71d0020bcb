"""The processor group's consumer lag on the raw topic, measured inside the worker
(:mod:`hookline.lag`) every ``settings.kafka.lag_interval_seconds``."""

from __future__ import annotations

import asyncio

import faust
from prometheus_client import CollectorRegistry

from hookline.lag import LagMetrics, LagMonitor, watch_lag
from hookline.settings import Settings
from hookline.topics import Topics
from processors.app import app_id


def export_lag(app: faust.App, settings: Settings, registry: CollectorRegistry) -> None:
    """Register a task on ``app`` that exports ``hookline_consumer_*`` for its group into
    ``registry`` while the worker runs (nothing when the interval is 0)."""
    interval = settings.kafka.lag_interval_seconds
    if interval <= 0:
        return
    metrics = LagMetrics(registry)
    raw = Topics(settings.kafka.topic_prefix).raw_webhooks

    async def measure_lag() -> None:
        # Runs until faust cancels its tasks at shutdown; watch_lag then closes the client.
        monitor = LagMonitor(settings.kafka, app_id(settings), [raw], metrics)
        await watch_lag(monitor, interval, asyncio.Event())

    app.task(measure_lag)
