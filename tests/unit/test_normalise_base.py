"""The normaliser interface and its shared helpers: money, timestamps, field access.

Also home of the factories the per-provider normaliser tests import (``raw_event``,
``sample``, ``only``)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest
from pydantic import BaseModel

from processors.normalisers.base import InvalidPayload, ProviderNormaliser, RawEvent
from processors.normalisers.fields import (
    Obj,
    currency_code,
    minor_units,
    money,
    money_minor,
    parse_time,
    split_tags,
)
from schemas.events import CloudEvent, Money
from schemas.raw import RawHeaders
from tests.conftest import DATA

RECEIVED_AT = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)


def raw_event(
    provider: str,
    event_type: str,
    body: bytes | dict[str, Any] | list[Any],
    *,
    event_id: str = "evt-1",
    source: str = "src",
    content_type: str = "application/json",
) -> RawEvent:
    headers = RawHeaders(
        source=source,
        provider=provider,
        event_id=event_id,
        event_type=event_type,
        received_at=RECEIVED_AT,
        content_type=content_type,
        request_id="req-1",
    )
    return RawEvent(headers, body if isinstance(body, bytes) else orjson.dumps(body))


def sample(folder: str, name: str) -> bytes:
    """A real sample payload from tests/data, as bytes."""
    return (DATA / "payloads" / folder / name).read_bytes()


def sample_json(folder: str, name: str) -> dict[str, Any]:
    value: dict[str, Any] = orjson.loads(sample(folder, name))
    return value


def only(events: list[CloudEvent]) -> CloudEvent:
    assert len(events) == 1, events
    return events[0]


# --- money -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "currency", "expected"),
    [
        ("199.00", "USD", 19900),
        ("0.1", "EUR", 10),
        ("-10.00", "USD", -1000),
        (12.5, "USD", 1250),
        (3, "USD", 300),
        ("1000", "JPY", 1000),
        ("1000.00", "JPY", 1000),
        ("1.250", "KWD", 1250),
        ("0.1", "BHD", 100),
        ("1.2345", "CLF", 12345),
    ],
)
def test_decimal_amounts_become_minor_units_by_currency_exponent(
    amount: object, currency: str, expected: int
) -> None:
    assert minor_units(amount, currency) == expected


@pytest.mark.parametrize(
    ("amount", "currency"), [("1.5", "JPY"), ("10.005", "USD"), ("1.2345", "KWD")]
)
def test_amount_more_precise_than_its_currency_is_invalid(amount: str, currency: str) -> None:
    with pytest.raises(InvalidPayload, match="more decimals"):
        minor_units(amount, currency)


def test_rounding_is_half_to_even_when_asked() -> None:
    assert minor_units("10.005", "USD", rounding=True) == 1000
    assert minor_units("10.015", "USD", rounding=True) == 1002
    assert minor_units("2.5", "JPY", rounding=True) == 2


@pytest.mark.parametrize("amount", ["abc", "NaN", "Infinity", True, None, [1]])
def test_non_amounts_are_invalid(amount: object) -> None:
    with pytest.raises(InvalidPayload):
        minor_units(amount, "USD")


def test_currency_codes_are_upper_cased_and_checked() -> None:
    assert currency_code("usd") == "USD"
    for bad in ("US", "dollars", 840, None):
        with pytest.raises(InvalidPayload):
            currency_code(bad)


def test_money_is_absent_when_amount_or_currency_is() -> None:
    assert money(None, "USD") is None
    assert money("", "USD") is None
    assert money("1.00", None) is None
    assert money("1.00", "usd") == Money(amount_minor=100, currency="USD")


def test_minor_unit_integers_pass_through_and_strings_do_not() -> None:
    assert money_minor(5000, "jpy") == Money(amount_minor=5000, currency="JPY")
    assert money_minor(None, "usd") is None
    with pytest.raises(InvalidPayload):
        money_minor("50.00", "usd")


def test_minor_units_of_another_exponent_are_converted_to_iso() -> None:
    two_decimals = {"ISK": 2, "MGA": 0}.__getitem__
    assert money_minor(490000, "isk", two_decimals) == Money(amount_minor=4900, currency="ISK")
    assert money_minor(-500, "isk", two_decimals) == Money(amount_minor=-5, currency="ISK")
    assert money_minor(50, "mga", two_decimals) == Money(amount_minor=5000, currency="MGA")
    with pytest.raises(InvalidPayload, match="whole number of ISK"):
        money_minor(490001, "isk", two_decimals)


# --- timestamps --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2025-04-22T14:30:00-05:00", datetime(2025, 4, 22, 19, 30, tzinfo=UTC)),
        ("2025-04-23T01:00:00+05:30", datetime(2025, 4, 22, 19, 30, tzinfo=UTC)),
        ("2022-11-03T20:26:10.344522Z", datetime(2022, 11, 3, 20, 26, 10, 344522, tzinfo=UTC)),
        (1441645532, datetime(2015, 9, 7, 17, 5, 32, tzinfo=UTC)),
    ],
)
def test_timestamps_become_utc_instants(value: object, expected: datetime) -> None:
    parsed = parse_time(value)
    assert parsed == expected
    assert parsed.utcoffset() is not None
    assert parsed.utcoffset().total_seconds() == 0  # type: ignore[union-attr]


def test_unix_milliseconds_keep_their_milliseconds_exactly() -> None:
    assert parse_time(1700000000123, unix="ms") == datetime(
        2023, 11, 14, 22, 13, 20, 123000, tzinfo=UTC
    )


def test_timestamp_without_offset_is_invalid_unless_known_to_be_utc() -> None:
    with pytest.raises(InvalidPayload, match="no UTC offset"):
        parse_time("2017-03-22T19:28:08")
    assert parse_time("2017-03-22T19:28:08", naive_utc=True) == datetime(
        2017, 3, 22, 19, 28, 8, tzinfo=UTC
    )


@pytest.mark.parametrize("value", ["yesterday", True, 10**20, {"t": 1}])
def test_non_timestamps_are_invalid(value: object) -> None:
    with pytest.raises(InvalidPayload):
        parse_time(value)


# --- field access ------------------------------------------------------------------------


def test_field_errors_name_the_path() -> None:
    body = Obj({"data": {"object": {"id": None, "amount": "x"}}})
    inner = body.req_child("data").req_child("object")
    with pytest.raises(InvalidPayload, match=r"body\.data\.object\.id: required ID"):
        inner.ident("id")
    with pytest.raises(InvalidPayload, match=r"body\.data\.object\.amount"):
        inner.integer("amount")


def test_ids_accept_strings_and_integers_only() -> None:
    body = Obj({"a": 12, "b": "x", "c": True, "d": 1.5, "e": ""})
    assert (body.ident("a"), body.ident("b"), body.opt_ident("e")) == ("12", "x", None)
    for key in ("c", "d"):
        with pytest.raises(InvalidPayload):
            body.ident(key)


def test_tags_split_on_commas_and_drop_blanks() -> None:
    assert split_tags("Léon, Noël, ,") == ("Léon", "Noël")
    assert split_tags(["a", "", None, "b"]) == ("a", "b")
    assert split_tags(None) == ()


# --- the interface -----------------------------------------------------------------------


def test_raw_event_reads_the_raw_topics_kafka_headers() -> None:
    raw = raw_event("stripe", "customer.created", b"{}")
    assert RawEvent.from_kafka(raw.headers.to_kafka(), raw.body) == raw


def test_a_model_rejecting_provider_data_is_an_invalid_payload() -> None:
    class Strict(BaseModel):
        currency: str

    class Broken(ProviderNormaliser):
        def convert(self, raw: RawEvent) -> list[CloudEvent]:
            Strict.model_validate({"currency": 4})
            return []

    with pytest.raises(InvalidPayload, match=r"Strict\.currency") as caught:
        Broken().normalise(raw_event("x", "y", b"{}"))
    assert caught.value.reason.startswith("Strict.currency")
