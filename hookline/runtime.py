"""Process-wide settings every long-running service applies once at start-up."""

from __future__ import annotations

import gc


def tune_garbage_collector() -> None:
    """Each record or request allocates many short-lived objects (parsed JSON, models,
    HTTP messages) and few reference cycles; at the default thresholds a collection ran
    every few records (5 to 10 % of a busy service's CPU). Objects alive at start-up (modules,
    the app, its clients) are frozen out of collections altogether."""
    gc.collect()
    gc.freeze()
    gc.set_threshold(50_000, 50, 100)
