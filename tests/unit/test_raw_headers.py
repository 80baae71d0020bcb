"""The raw topic's headers: the fast writer and the model agree, and round-trip."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

from schemas.raw import RawHeaders


def test_wire_headers_round_trip_through_the_model() -> None:
    headers = RawHeaders(
        source="shop-eu",
        provider="shopify",
        event_id="e-1",
        event_type="orders/create",
        received_at=datetime(2026, 11, 27, 12, 0, tzinfo=timezone(timedelta(hours=1))),
        content_type="application/json",
        request_id="r-1",
    )
    wire = headers.to_kafka()
    assert wire == RawHeaders.wire(**headers.model_dump())
    assert ("content-type", b"application/json") in wire
    assert RawHeaders.from_kafka([*wire, ("hookline.errors.stage", b"x")]) == headers
    assert RawHeaders.from_kafka(wire).received_at.astimezone(UTC).hour == 11
