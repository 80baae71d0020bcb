"""U+0000 in text: never in a canonical event, never in a PostgreSQL column.

PostgreSQL's text and JSONB cannot hold U+0000 (SQLSTATE 22021 / 22P05), and it is never
meaningful in text. A provider's free text carrying one would fail every store that keeps
the event: a connector's applied state (the connector failing on every restart, its
partition stuck), the warehouse's rows, held conflicts. So the processors write canonical
events without it, and the stores that keep event data replace it too (events that did
not pass through the processors: an older version's, another producer's). It becomes
U+FFFD, the replacement character: visibly "something was here", lengths unchanged.
"""

from __future__ import annotations

import re
from typing import Any

REPLACEMENT = "\ufffd"

#: A JSON ``\u0000`` escape that is one: an odd run of backslashes before ``u0000`` (an
#: even run is escaped backslashes followed by the text "u0000").
_NUL_ESCAPE = re.compile(rb"(?<!\\)((?:\\\\)*)\\u0000")


def json_without_nul(encoded: bytes) -> bytes:
    """``encoded`` JSON with every U+0000 in its strings (and keys) written as U+FFFD; the
    same bytes, not copied, when it holds none (one scan: nearly always)."""
    if b"\\u0000" not in encoded:
        return encoded
    return _NUL_ESCAPE.sub(rb"\1\\ufffd", encoded)


def without_nul(value: Any) -> Any:
    """``value`` (str, dict, list, as decoded JSON) with every U+0000 in its strings and
    keys replaced by U+FFFD; the same object when it holds none (nothing copied)."""
    return value if nul_path(value) is None else _replace_nul(value)


def nul_path(value: Any) -> list[str] | None:
    """Where the first U+0000 in ``value`` is: the keys and list indexes down to the string
    holding it (ending with the key itself when a key holds it); None when there is none."""
    if isinstance(value, str):
        return [] if "\x00" in value else None
    items: list[tuple[Any, Any]] = []
    if isinstance(value, dict):
        items = list(value.items())
    elif isinstance(value, list):
        items = list(enumerate(value))
    for key, inner in items:
        if isinstance(key, str) and "\x00" in key:
            return [key]
        found = nul_path(inner)
        if found is not None:
            return [str(key), *found]
    return None


def _replace_nul(value: Any) -> Any:
    if isinstance(value, str):
        return value.replace("\x00", REPLACEMENT)
    if isinstance(value, dict):
        return {_replace_nul(k): _replace_nul(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_replace_nul(v) for v in value]
    return value
