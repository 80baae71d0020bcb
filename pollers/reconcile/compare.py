"""Compare what two systems hold of one family: pure, no I/O.

An entity is keyed by what both systems share (:mod:`pollers.reconcile.systems`). Each
side's *state hash* is the sha256 of its key fields; equal hashes mean the entity is in
step. Otherwise the mismatch says which fields differ, or which side lacks the entity:
``missing_left`` (only the right system has it), ``missing_right`` (only the left).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import Any

import orjson

from pollers.reconcile.systems import Fields, Seen

KINDS = ("missing_left", "missing_right", "fields")


def state_hash(fields: Fields) -> str:
    return hashlib.sha256(orjson.dumps(dict(fields), option=orjson.OPT_SORT_KEYS)).hexdigest()


@dataclass(frozen=True, slots=True)
class Mismatch:
    key: str
    kind: str  # one of KINDS
    fields: tuple[str, ...]  # the key fields that differ (kind "fields")
    left: Seen | None
    right: Seen | None

    def side(self, right: bool) -> Seen | None:
        return self.right if right else self.left


def view(seen: Seen | None) -> dict[str, Any] | None:
    """A side as stored in ``reconcile_mismatches``: its ID, key fields and state hash."""
    if seen is None:
        return None
    return {"ref": seen.ref, "fields": dict(seen.fields), "state_hash": state_hash(seen.fields)}


def compare(left: dict[str, Seen], right: dict[str, Seen]) -> list[Mismatch]:
    """Every key whose entity differs between the sides, in key order."""
    out = []
    for key in sorted(left.keys() | right.keys()):
        mine, theirs = left.get(key), right.get(key)
        if mine is None:
            out.append(Mismatch(key, "missing_left", (), None, theirs))
        elif theirs is None:
            out.append(Mismatch(key, "missing_right", (), mine, None))
        elif state_hash(mine.fields) != state_hash(theirs.fields):
            names = sorted(mine.fields.keys() | theirs.fields.keys())
            differ = tuple(n for n in names if mine.fields.get(n) != theirs.fields.get(n))
            out.append(Mismatch(key, "fields", differ, mine, theirs))
    return out
