"""Change detection, staleness and conflict policies: one pure function, :func:`judge`.

Given the state last applied for an entity by this connector (``prior``: hash, version,
source) and an incoming change, in this order:

1. no prior state                              -> APPLY
2. same state hash as applied                  -> UNCHANGED (skipped; this is also what
                                                  suppresses echoes in two-way syncs; a
                                                  newer version is remembered)
3. incoming version older than the applied one -> STALE (skipped: an older change never
                                                  overwrites a newer one), unless the
                                                  policy is ``source_priority`` and it is
                                                  a conflict its source wins
4. a **conflict** (below)                      -> the connector's policy decides
5. otherwise                                   -> APPLY

**What counts as a conflict.** The incoming change comes from a different source than the
applied state, its state differs, it is not older, and the two are *concurrent*: their
versions (``updated_at``) are less than ``window_seconds`` apart, or ``window_seconds`` is
unset (then any such pair is concurrent). Two sources changed the same entity and neither
change is known to build on the other. A change from the same source as the applied one is
a plain update, never a conflict. When both states are known (``incoming_state`` and
``prior.state``), a conflict also needs a contradiction: a field both carry (not null)
with different values. Two systems' views of one person differ in the fields each keeps
(a CRM has no shop address): an echo that adds fields but contradicts none is an update.

**Policies.**

- ``last_write_wins``: the newer version is applied (it is not older, by rule 3).
- ``source_priority``: applied when its source ranks at least as high as the applied
  state's source in ``source_priority`` (first = highest; unlisted sources rank last);
  otherwise REJECTED: a lower-priority source never overwrites a higher one's state.
  A concurrent change from a *higher* source wins even when its version is older than the
  applied one: near-simultaneous edits are decided by the policy, not by arrival order.
- ``manual_review``: HELD: recorded in ``conflicts`` with both versions, not applied.

Every conflict is logged and counted by the runner, whatever the resolution.
"""

from __future__ import annotations

from collections.abc import Mapping
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
    *,
    incoming_state: Mapping[str, Any] | None = None,
) -> Judgement:
    if prior is None:
        return Judgement(Verdict.APPLY)
    if prior.state_hash == state_hash:
        return Judgement(Verdict.UNCHANGED)
    conflict = is_conflict(prior, version, source, config) and contradicts(
        prior.state, incoming_state
    )
    older = prior.version is not None and version < prior.version
    if older and not (conflict and outranks(prior, source, config)):
        return Judgement(Verdict.STALE)
    if not conflict:
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
    return abs((version - prior.version).total_seconds()) < config.window_seconds


def contradicts(applied: Mapping[str, Any] | None, incoming: Mapping[str, Any] | None) -> bool:
    """A field both states carry (not null) holds different values; unknown states: True."""
    if applied is None or incoming is None:
        return True
    shared = [k for k, v in incoming.items() if v is not None and applied.get(k) is not None]
    return any(applied[k] != incoming[k] for k in shared)


def _rank(source: str | None, config: ConflictConfig) -> int:
    order = config.source_priority
    return order.index(source) if source in order else len(order)


def outranks(prior: AppliedState, source: str, config: ConflictConfig) -> bool:
    """Under ``source_priority``: the incoming source ranks strictly above the applied one."""
    return config.policy == "source_priority" and _rank(source, config) < _rank(
        prior.source, config
    )


def resolve(prior: AppliedState, source: str, config: ConflictConfig) -> Verdict:
    if config.policy == "last_write_wins":
        return Verdict.APPLY
    if config.policy == "manual_review":
        return Verdict.HOLD
    if _rank(source, config) <= _rank(prior.source, config):
        return Verdict.APPLY
    return Verdict.REJECT
