"""Health of the external APIs: a cheap periodic probe of each connector's destination.

With a probe interval (the connector's ``probe_interval_seconds``, else the service's
``connectors.probe_interval_seconds``; 0, the default, is off), each connector instance
calls its destination's ``probe`` hook (:mod:`connectors.destinations.base`) every
interval, apart from delivery, and exports:

- ``hookline_destination_up{connector}``: 1 when the last probe succeeded, 0 when it
  raised (a 5xx, a timeout, refused credentials, an unreachable host) or took longer than
  the destination's ``timeout_seconds``;
- ``hookline_destination_probe_duration_seconds{connector}``: how long the last one took.

A probe goes through the destination's HTTP client like any call, so it is audited and
counted with the connector's external calls. A failing probe changes nothing else: the
runner's breaker and retries decide about deliveries.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager, suppress

from connectors.metrics import ConnectorMetrics
from hookline.logs import get_logger

log = get_logger("hookline.connectors.probe")

Probe = Callable[[], Awaitable[None]]


async def probe_once(
    connector: str, probe: Probe, metrics: ConnectorMetrics, timeout_seconds: float
) -> bool:
    """Probe once and export the result; True when the destination is up."""
    started = time.perf_counter()
    try:
        # asyncio.timeout, not wait_for: before 3.12 wait_for can swallow the cancellation
        # that stops the loop when the probe finishes at the same moment.
        async with asyncio.timeout(timeout_seconds):
            await probe()
    except Exception as exc:  # any failure means down; the reason goes to the log
        up = False
        log.warning("destination probe failed", connector=connector, error=type(exc).__name__,
                    reason=str(exc)[:200])  # fmt: skip
    else:
        up = True
    metrics.probe_duration.labels(connector).set(time.perf_counter() - started)
    metrics.destination_up.labels(connector).set(1 if up else 0)
    return up


async def watch(
    connector: str,
    probe: Probe,
    metrics: ConnectorMetrics,
    interval_seconds: float,
    timeout_seconds: float,
) -> None:
    """Probe every ``interval_seconds`` until cancelled."""
    while True:
        await probe_once(connector, probe, metrics, timeout_seconds)
        await asyncio.sleep(interval_seconds)


@asynccontextmanager
async def probing(
    connector: str,
    probe: Probe | None,
    metrics: ConnectorMetrics,
    interval_seconds: float,
    timeout_seconds: float,
) -> AsyncIterator[None]:
    """Probe in the background while the context is open (nothing when ``probe`` is None
    or the interval is 0)."""
    if probe is None or interval_seconds <= 0:
        yield
        return
    task = asyncio.create_task(watch(connector, probe, metrics, interval_seconds, timeout_seconds))
    try:
        yield
    finally:
        task.cancel()
        with suppress(asyncio.CancelledError):
            await task
