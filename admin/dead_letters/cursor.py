"""Opaque keyset cursors: a direction, the id of the page's edge row, and a digest of
the filters (a cursor used with other filters is a 400, not a silently wrong page)."""

from __future__ import annotations

import base64
import binascii
import hashlib
from dataclasses import dataclass
from typing import Literal

import orjson

from admin.errors import ApiError


@dataclass(frozen=True, slots=True)
class Cursor:
    direction: Literal["next", "prev"]
    edge: int  # next: ids below it; prev: ids above it


def filters_digest(filters: dict[str, object]) -> str:
    return hashlib.sha256(orjson.dumps(filters, option=orjson.OPT_SORT_KEYS)).hexdigest()[:16]


def encode(cursor: Cursor, digest: str) -> str:
    raw = orjson.dumps({"d": cursor.direction[0], "e": cursor.edge, "f": digest})
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode(text: str, digest: str) -> Cursor:
    try:
        raw = orjson.loads(base64.urlsafe_b64decode(text + "=" * (-len(text) % 4)))
        direction = {"n": "next", "p": "prev"}[raw["d"]]
        edge = raw["e"]
        same = raw["f"] == digest
    except (binascii.Error, orjson.JSONDecodeError, KeyError, TypeError, ValueError):
        raise ApiError(400, "invalid_cursor", "the cursor is not valid", "cursor") from None
    if not isinstance(edge, int) or isinstance(edge, bool) or not same:
        raise ApiError(400, "invalid_cursor", "the cursor belongs to other filters", "cursor")
    return Cursor("next" if direction == "next" else "prev", edge)
