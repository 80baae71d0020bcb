"""Reading provider JSON safely: typed field access, money and timestamps.

Every helper raises :class:`InvalidPayload` with the field's path instead of a ``KeyError``
or ``TypeError``, so a malformed body is dead-lettered with a reason a person can act on.

- **Money**: decimal strings (``"199.00"``) become integer minor units using the
  currency's ISO 4217 exponent (JPY 0, KWD/BHD 3, CLF 4, default 2); an amount more precise
  than its currency is rejected unless the caller asks for rounding (half to even).
  Integers in an origin's minor units (Stripe) are converted from the origin's exponent
  for the currency to ISO 4217's, where the two differ.
- **Metadata**: an origin's key-value map kept string-valued and within the bounds of
  :data:`schemas.events.Metadata`.
- **Timestamps**: ISO 8601 strings with an offset, unix seconds or unix milliseconds all
  become timezone-aware UTC datetimes. A string without an offset is rejected unless the
  caller knows it is UTC (WooCommerce's ``*_gmt`` fields).
"""

from __future__ import annotations

import itertools
import re
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import ROUND_HALF_EVEN, Decimal, InvalidOperation
from typing import Any, Literal

import orjson

from processors.normalisers.base import InvalidPayload
from schemas.currency import CURRENCY_EXPONENTS
from schemas.events import (
    METADATA_MAX_ENTRIES,
    METADATA_MAX_KEY_LENGTH,
    METADATA_MAX_VALUE_LENGTH,
    Address,
    Money,
)

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_CURRENCY = re.compile(r"^[A-Za-z]{3}$")

Unix = Literal["s", "ms"]


def parse_json(body: bytes) -> Any:
    try:
        return orjson.loads(body)
    except orjson.JSONDecodeError as exc:
        raise InvalidPayload(f"body is not JSON: {exc}") from exc


def json_object(body: bytes) -> Obj:
    value = parse_json(body)
    if not isinstance(value, dict):
        raise InvalidPayload(f"body is a JSON {type(value).__name__}, expected an object")
    return Obj(value)


def currency_code(value: object, path: str = "currency") -> str:
    if not isinstance(value, str) or not _CURRENCY.match(value):
        raise InvalidPayload(f"{path}: {value!r} is not an ISO 4217 currency code")
    return value.upper()


def minor_units(amount: object, currency: str, *, rounding: bool = False) -> int:
    """``"199.00"`` USD -> 19900; ``"1000"`` JPY -> 1000; ``"1.250"`` KWD -> 1250."""
    if isinstance(amount, bool) or not isinstance(amount, str | int | float):
        raise InvalidPayload(f"{amount!r} is not an amount")
    try:
        value = Decimal(str(amount).strip())
    except InvalidOperation as exc:
        raise InvalidPayload(f"{amount!r} is not a decimal amount") from exc
    if not value.is_finite():
        raise InvalidPayload(f"{amount!r} is not a finite amount")
    scaled = value.scaleb(CURRENCY_EXPONENTS.get(currency, 2))
    whole = scaled.to_integral_value(rounding=ROUND_HALF_EVEN)
    if whole != scaled and not rounding:
        raise InvalidPayload(f"{amount!r} has more decimals than {currency} allows")
    return int(whole)


def money(amount: object, currency: str | None, *, rounding: bool = False) -> Money | None:
    """A decimal amount as Money; None when the amount or its currency is absent."""
    if amount is None or amount == "" or currency is None:
        return None
    code = currency_code(currency)
    return Money(amount_minor=minor_units(amount, code, rounding=rounding), currency=code)


def money_minor(
    amount: object, currency: object, exponent_of: Callable[[str], int] | None = None
) -> Money | None:
    """An integer amount in the origin's minor units as Money in ISO 4217 minor units;
    None when either part is absent.

    ``exponent_of(code)`` is how many decimals the origin's integers carry for a currency
    (Stripe writes ISK with 2, ISO 4217 gives it 0); without it they are ISO minor units
    already. An amount that is no whole number of ISO minor units is ``InvalidPayload``.
    """
    if amount is None or currency is None:
        return None
    if isinstance(amount, bool) or not isinstance(amount, int):
        raise InvalidPayload(f"{amount!r} is not an integer amount in minor units")
    code = currency_code(currency)
    iso = CURRENCY_EXPONENTS.get(code, 2)
    shift = iso - (exponent_of(code) if exponent_of else iso)
    whole, rest = divmod(amount, 10**-shift) if shift < 0 else (amount * 10**shift, 0)
    if rest:
        raise InvalidPayload(f"{amount} is not a whole number of {code} minor units")
    return Money(amount_minor=whole, currency=code)


def string_map(obj: Obj | None) -> dict[str, str]:
    """An origin's metadata object (Stripe's ``metadata``) as :func:`bounded_strings`."""
    return bounded_strings(obj.data.items()) if obj is not None else {}


def pair_map(value: object, key_field: str) -> dict[str, str]:
    """A list of ``{key_field: …, "value": …}`` objects (Shopify ``note_attributes``,
    WooCommerce ``meta_data``) as :func:`bounded_strings`; anything else in it is skipped,
    so odd metadata never rejects the entity that carries it."""
    items = value if isinstance(value, list) else []
    pairs = (i for i in items if isinstance(i, dict))
    return bounded_strings((i.get(key_field), i.get("value")) for i in pairs)


def bounded_strings(pairs: Iterable[tuple[object, object]]) -> dict[str, str]:
    """Metadata within the bounds of :data:`schemas.events.Metadata`, in the origin's order:
    pairs whose key or value is not a string or is too long are left out, and so is every
    pair after the first :data:`METADATA_MAX_ENTRIES` kept. A repeated key keeps its last."""
    kept = (
        (key, value)
        for key, value in pairs
        if isinstance(key, str)
        and isinstance(value, str)
        and 0 < len(key) <= METADATA_MAX_KEY_LENGTH
        and len(value) <= METADATA_MAX_VALUE_LENGTH
    )
    return dict(itertools.islice(kept, METADATA_MAX_ENTRIES))


def parse_time(value: object, *, unix: Unix = "s", naive_utc: bool = False) -> datetime:
    """An aware UTC datetime from an ISO string or a unix number (``unix``: its unit)."""
    if isinstance(value, bool):
        raise InvalidPayload(f"{value!r} is not a timestamp")
    if isinstance(value, int | float):
        try:
            offset = timedelta(milliseconds=value) if unix == "ms" else timedelta(seconds=value)
            return _EPOCH + offset
        except OverflowError as exc:
            raise InvalidPayload(f"{value!r} is out of range for a timestamp") from exc
    if not isinstance(value, str):
        raise InvalidPayload(f"{value!r} is not a timestamp")
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError as exc:
        raise InvalidPayload(f"{value!r} is not an ISO 8601 timestamp") from exc
    if parsed.tzinfo is None:
        if not naive_utc:
            raise InvalidPayload(f"{value!r} has no UTC offset")
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def split_tags(value: object) -> tuple[str, ...]:
    """``"a, b"`` or ``["a", "b"]`` -> ``("a", "b")``; blanks dropped, order kept."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list | tuple):
        return ()
    return tuple(t.strip() for t in items if isinstance(t, str) and t.strip())


def join_name(*parts: str | None) -> str | None:
    return " ".join(p for p in parts if p) or None


def address(obj: Obj | None, **names: str) -> Address | None:
    """An Address from ``obj``; ``names`` maps Address fields to the origin's keys, with
    ``|`` between alternatives (``region="province_code|province"``). None when empty."""
    if obj is None:
        return None
    fields = {field: _first_text(obj, keys.split("|")) for field, keys in names.items()}
    return Address(**fields) if any(fields.values()) else None


def _first_text(obj: Obj, keys: list[str]) -> str | None:
    return next((v for k in keys if (v := obj.text(k)) is not None), None)


class Obj:
    """A JSON object with typed, path-reporting accessors. Absent and ``null`` are alike."""

    __slots__ = ("data", "path")

    def __init__(self, data: Mapping[str, Any], path: str = "body") -> None:
        self.data = data
        self.path = path

    def error(self, key: str, problem: str) -> InvalidPayload:
        return InvalidPayload(f"{self.path}.{key}: {problem}")

    def get(self, key: str) -> Any:
        return self.data.get(key)

    def ident(self, key: str) -> str:
        """A required ID: a non-empty string or an integer, as a string."""
        value = self.opt_ident(key)
        if value is None:
            raise self.error(key, "required ID is missing")
        return value

    def opt_ident(self, key: str) -> str | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if isinstance(value, bool) or not isinstance(value, str | int):
            raise self.error(key, f"{value!r} is not an ID")
        return str(value)

    def text(self, key: str) -> str | None:
        """An optional string; empty means absent."""
        value = self.data.get(key)
        if value is None or value == "":
            return None
        if not isinstance(value, str):
            raise self.error(key, f"{value!r} is not a string")
        return value

    def text_at(self, *path: str) -> str | None:
        """The string at a nested path (``"billing", "email"``); None when a part is absent."""
        *parents, key = path
        obj: Obj | None = self
        for name in parents:
            obj = obj.child(name) if obj is not None else None
        return obj.text(key) if obj is not None else None

    def req_text(self, key: str) -> str:
        value = self.text(key)
        if value is None:
            raise self.error(key, "required string is missing")
        return value

    def integer(self, key: str) -> int | None:
        value = self.data.get(key)
        if value is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(key, f"{value!r} is not an integer")
        return value

    def boolean(self, key: str) -> bool | None:
        value = self.data.get(key)
        if value is not None and not isinstance(value, bool):
            raise self.error(key, f"{value!r} is not a boolean")
        return value

    def child(self, key: str) -> Obj | None:
        value = self.data.get(key)
        if value is None:
            return None
        if not isinstance(value, dict):
            raise self.error(key, f"expected an object, got {type(value).__name__}")
        return Obj(value, f"{self.path}.{key}")

    def req_child(self, key: str) -> Obj:
        value = self.child(key)
        if value is None:
            raise self.error(key, "required object is missing")
        return value

    def children(self, key: str) -> list[Obj]:
        value = self.data.get(key)
        if value is None:
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            raise self.error(key, "expected a list of objects")
        return [Obj(v, f"{self.path}.{key}[{i}]") for i, v in enumerate(value)]

    def time(self, key: str, *, unix: Unix = "s", naive_utc: bool = False) -> datetime | None:
        value = self.data.get(key)
        if value is None or value == "":
            return None
        try:
            return parse_time(value, unix=unix, naive_utc=naive_utc)
        except InvalidPayload as exc:
            raise self.error(key, exc.reason) from exc

    def req_time(self, key: str, *, unix: Unix = "s", naive_utc: bool = False) -> datetime:
        value = self.time(key, unix=unix, naive_utc=naive_utc)
        if value is None:
            raise self.error(key, "required timestamp is missing")
        return value

    def money(self, key: str, currency: str | None, *, rounding: bool = False) -> Money | None:
        try:
            return money(self.data.get(key), currency, rounding=rounding)
        except InvalidPayload as exc:
            raise self.error(key, exc.reason) from exc
