"""Accepted and rejected webhook requests per source, from the ingress workers' own
counters: the admin service samples ``hookline_ingress_requests_total`` from each
configured worker's internal ``/metrics`` (``admin.ingress_metrics_urls``) every
``admin.ingress_scrape_seconds``.

What the numbers mean:

- ``accepted``: answered 2xx (durably in Kafka); ``rejected``: 4xx (signature, size,
  malformed); ``failed``: 5xx (Kafka did not acknowledge in time).
- ``since_worker_start``: the counters summed over the workers that answered the last
  sample; a restarted worker starts again from 0.
- A window (5 minutes, 1 hour) is the increase between the oldest sample inside it and
  the newest, summed over workers; a counter that went down (its worker restarted) counts
  from 0 again. Requests answered before the admin service's first sample are in no
  window. ``covered_seconds`` says how much of the window the samples span (less while
  the admin service is young). Samples live in this process's memory only.
- A worker that does not answer a sample is left out of it (its increase is counted at
  its next answer); ``answering`` in the list's meta says how many answered the last.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field

import aiohttp
from prometheus_client.parser import text_string_to_metric_families

SAMPLE = "hookline_ingress_requests_total"
WINDOWS_SECONDS = (300, 3600)
CLASSES = ("accepted", "rejected", "failed")
Key = tuple[str, str]  # (source, class)


def status_class(status: str) -> str | None:
    return {"2": "accepted", "4": "rejected", "5": "failed"}.get(status[:1])


def parse(text: str) -> dict[Key, float]:
    """The request counter of one worker's exposition, summed by (source, class)."""
    counts: dict[Key, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name != SAMPLE:
                continue
            kind = status_class(sample.labels.get("status", ""))
            if kind is not None:
                key = (sample.labels.get("source", ""), kind)
                counts[key] = counts.get(key, 0.0) + sample.value
    return counts


@dataclass
class IngressCounts:
    """Samples of the ingress workers' counters, and the windows over them."""

    urls: list[str]
    horizon_seconds: float = max(WINDOWS_SECONDS)
    _last: dict[str, dict[Key, float]] = field(default_factory=dict)  # per worker URL
    _increase: dict[Key, float] = field(default_factory=dict)  # summed since our start
    _samples: deque[tuple[float, dict[Key, float]]] = field(default_factory=deque)
    answering: int = 0

    @property
    def configured(self) -> bool:
        return bool(self.urls)

    async def sample(self, session: aiohttp.ClientSession) -> None:
        answers = await asyncio.gather(*(_fetch(session, url) for url in self.urls))
        self.answering = sum(1 for a in answers if a is not None)
        for url, counts in zip(self.urls, answers, strict=True):
            if counts is not None:
                self._absorb(url, counts)
        now = time.monotonic()
        self._samples.append((now, dict(self._increase)))
        while self._samples and self._samples[0][0] < now - self.horizon_seconds - 60:
            self._samples.popleft()

    def _absorb(self, url: str, counts: Mapping[Key, float]) -> None:
        before = self._last.get(url)
        self._last[url] = dict(counts)
        if before is None:  # first sight: what it counted before is in no window
            return
        for key, value in counts.items():
            earlier = before.get(key, 0.0)
            grown = value - earlier if value >= earlier else value  # below: it restarted
            self._increase[key] = self._increase.get(key, 0.0) + grown

    def since_worker_start(self, source: str) -> dict[str, int]:
        return {c: int(sum(w.get((source, c), 0.0) for w in self._last.values())) for c in CLASSES}

    def windows(self, source: str) -> list[dict[str, float | int]]:
        return [self._window(source, seconds) for seconds in WINDOWS_SECONDS]

    def _window(self, source: str, seconds: int) -> dict[str, float | int]:
        counts = {c: 0 for c in CLASSES}
        covered = 0.0
        if self._samples:
            newest_at, newest = self._samples[-1]
            inside = [s for s in self._samples if s[0] >= newest_at - seconds]
            oldest_at, oldest = inside[0]
            covered = newest_at - oldest_at
            for c in CLASSES:
                key = (source, c)
                counts[c] = int(newest.get(key, 0.0) - oldest.get(key, 0.0))
        return {"window_seconds": seconds, "covered_seconds": round(covered, 1), **counts}


async def _fetch(session: aiohttp.ClientSession, url: str) -> dict[Key, float] | None:
    try:
        async with session.get(url, timeout=aiohttp.ClientTimeout(total=5)) as response:
            if response.status != 200:
                return None
            return parse(await response.text())
    except (aiohttp.ClientError, TimeoutError, ValueError):
        return None


async def run(counts: IngressCounts, interval: float, stop: asyncio.Event) -> None:
    """Sample every ``interval`` seconds until ``stop`` is set."""
    async with aiohttp.ClientSession() as session:
        while not stop.is_set():
            await counts.sample(session)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
