"""Stripe specifics: event ID and type from the body, several v1 entries, ignored keys."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict

from ingress.providers.base import RawRequest, SignatureError, VerifiedWebhook, body_fingerprint
from ingress.providers.stripe import PROVIDER, StripeConfig
from tests.conftest import DATA

SECRET = "whsec_test_secret"
NOW = 1_700_000_000
SAMPLES = DATA / "payloads" / "stripe"


def verify(body: bytes, header: str) -> VerifiedWebhook:
    config = StripeConfig(name="stripe", secrets=(SECRET,))
    request = RawRequest("POST", "https://x/", CIMultiDict({"Stripe-Signature": header}), body)
    return PROVIDER.verify(request, config, NOW)


def v1(body: bytes, secret: str = SECRET) -> str:
    header = PROVIDER.sign(body, secret, NOW)["Stripe-Signature"]
    return header.partition(",v1=")[2]


def test_event_id_and_type_come_from_the_body() -> None:
    body = (SAMPLES / "stripe-java_customer_created.json").read_bytes()
    event = verify(body, f"t={NOW},v1={v1(body)}").events[0]
    assert (event.event_id, event.event_type, event.body) == (
        "evt_00000000000000",
        "customer.created",
        body,
    )


def test_any_of_several_v1_signatures_may_match() -> None:
    body = b'{"id": "evt_1"}'
    header = f"t={NOW},v1={v1(body, 'whsec_rolled')},v1={v1(body)}"
    assert verify(body, header).events[0].event_id == "evt_1"


def test_v0_and_unknown_keys_are_ignored() -> None:
    body = b'{"id": "evt_1"}'
    header = f"t={NOW}, v0=not-even-hex, v1={v1(body)}, v9=future"
    assert verify(body, header).events


def test_header_without_v1_is_a_bad_signature() -> None:
    with pytest.raises(SignatureError, match="bad_signature"):
        verify(b"{}", f"t={NOW},v0={'0' * 64}")


def test_unparseable_body_is_accepted_under_its_fingerprint() -> None:
    body = b"\x00 not json"
    event = verify(body, f"t={NOW},v1={v1(body)}").events[0]
    assert (event.event_id, event.event_type) == (body_fingerprint(body), "unknown")


def test_unreadable_v1_entries_beside_a_valid_one_are_skipped() -> None:
    # Stripe's libraries compare every v1 and skip items without "=": so do we.
    body = b'{"id": "evt_1"}'
    header = f"t={NOW},v1=xyz,v1={v1(body, 'whsec_rolled')},v1={v1(body)},v1=Zm9v,stray"
    assert verify(body, header).events[0].event_id == "evt_1"


def test_unreadable_v1_entries_beside_a_wrong_one_are_a_bad_signature() -> None:
    body = b'{"id": "evt_1"}'
    with pytest.raises(SignatureError, match="bad_signature"):
        verify(body, f"t={NOW},v1=xyz,v1={v1(body, 'whsec_rolled')},stray")


@pytest.mark.parametrize("entries", ["v1=xyz", "v1=xyz,v1=" + "0" * 63, "v1=,stray"])
def test_header_whose_v1_entries_are_all_unreadable_is_malformed(entries: str) -> None:
    with pytest.raises(SignatureError, match="malformed_header"):
        verify(b"{}", f"t={NOW},{entries}")
