"""Change detection, staleness and conflict policies: one pure function, :func:`judge`.

Given the state last applied for an entity by this connector (``prior``: hash, version,
source) and an incoming change, in this order:

1. no prior state                              -> APPLY
2. same state hash as applied                  -> UNCHANGED (skipped; this is also what
                                                  suppresses echoes in two-way syncs; a
                                                  newer version is remembered)
3. incoming version older than the applied one -> STALE (skipped: an older change never
                                                  overwrites a newer one)
4. a **conflict** (below)                      -> the connector's policy decides
5. otherwise                                   -> APPLY

**What counts as a conflict.** The incoming change comes from a different source than the
applied state, its state differs, it is not older, and the two are *concurrent*: their
versions (``updated_at``) are less than ``window_seconds`` apart, or ``window_seconds`` is
unset (then any such pair is concurrent). Two sources changed the same entity and neither
change is known to build on the other. A change from the same source as the applied one is
a plain update, never a conflict.

**Policies.**

- ``last_write_wins``: the newer version is applied (it is not older, by rule 3).
- ``source_priority``: applied when its source ranks at least as high as the applied
  state's source in ``source_priority`` (first = highest; unlisted sources rank last);
  otherwise REJECTED: a lower-priority source never overwrites a higher one's state.
- ``manual_review``: HELD: recorded in ``conflicts`` with both versions, not applied.

Every conflict is logged and counted by the runner, whatever the resolution.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from connectors.config import ConflictConfig


class Verdict(StrEnum):
    APPLY = "apply"
    UNCHANGED = "unchanged"
    STALE = "stale"
    REJECT = "reject"
    HOLD = "hold"


@dataclass(frozen=True, slots=True)
class AppliedState:
    """What this connector last applied for one entity (a ``connector_entity_state`` row)."""

    state_hash: str
    version: datetime | None
    source: str | None
    state: dict[str, Any] | None = None


@dataclass(frozen=True, slots=True)
class Judgement:
    verdict: Verdict
    conflict: bool = False


def judge(
    prior: AppliedState | None,
    state_hash: str,
    version: datetime,
    source: str,
    config: ConflictConfig,
) -> Judgement:
    if prior is None:
        return Judgement(Verdict.APPLY)
    if prior.state_hash == state_hash:
        return Judgement(Verdict.UNCHANGED)
    if prior.version is not None and version < prior.version:
        return Judgement(Verdict.STALE)
    if not is_conflict(prior, version, source, config):
        return Judgement(Verdict.APPLY)
    return Judgement(resolve(prior, source, config), conflict=True)


def is_conflict(
    prior: AppliedState, version: datetime, source: str, config: ConflictConfig
) -> bool:
    """Differing source and concurrent versions (the caller has ruled out equal states)."""
    if prior.source is None or prior.source == source:
        return False
    if config.window_seconds is None or prior.version is None:
        return True
    return (version - prior.version).total_seconds() < config.window_seconds


def resolve(prior: AppliedState, source: str, config: ConflictConfig) -> Verdict:
    if config.policy == "last_write_wins":
        return Verdict.APPLY
    if config.policy == "manual_review":
        return Verdict.HOLD
    ranks = {name: rank for rank, name in enumerate(config.source_priority)}
    lowest = len(ranks)
    incoming_rank = ranks.get(source, lowest)
    applied_rank = ranks.get(prior.source or "", lowest)
    return Verdict.APPLY if incoming_rank <= applied_rank else Verdict.REJECT
