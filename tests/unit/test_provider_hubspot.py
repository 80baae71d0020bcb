"""HubSpot specifics: one event per batch element with stable IDs, URI and versions."""

from __future__ import annotations

import base64
import hashlib
import hmac

import orjson
import pytest
from multidict import CIMultiDict

from ingress.providers.base import RawRequest, SignatureError, VerifiedWebhook
from ingress.providers.hubspot import PROVIDER, HubSpotConfig

SECRET = "yyyyyyyy-yyyy-yyyy-yyyy-yyyyyyyyyyyy"
PUBLIC = "https://hooks.example.com/webhooks/hubspot"
NOW = 1_700_000_000.0
EVENTS = [
    {"eventId": 1, "subscriptionId": 9, "portalId": 62515, "occurredAt": 1564113600000,
     "subscriptionType": "contact.creation", "attemptNumber": 0, "objectId": 123},
    {"eventId": 2, "subscriptionId": 9, "portalId": 62515, "occurredAt": 1564113600001,
     "subscriptionType": "contact.propertyChange", "attemptNumber": 0, "objectId": 123,
     "propertyName": "email", "propertyValue": "a@example.com"},
    {"eventId": 1, "portalId": 62515, "occurredAt": 1564113600002,
     "eventType": "deal.creation", "attemptNumber": 0, "objectId": 456},
]  # fmt: skip


def verify(
    body: bytes, headers: dict[str, str], url: str = PUBLIC, **config: str
) -> VerifiedWebhook:
    source = HubSpotConfig(name="hs", secrets=(SECRET,), **config)
    return PROVIDER.verify(RawRequest("POST", url, CIMultiDict(headers), body), source, NOW)


def delivery(events: list[dict[str, object]], **extra: str) -> tuple[bytes, dict[str, str]]:
    body = orjson.dumps(events)
    return body, PROVIDER.sign(body, SECRET, NOW, url=PUBLIC, **extra)


def test_batch_becomes_one_event_per_element() -> None:
    webhook = verify(*delivery(EVENTS))
    assert [e.body for e in webhook.events] == [orjson.dumps(e) for e in EVENTS]
    assert [e.event_type for e in webhook.events] == [
        "contact.creation",
        "contact.propertyChange",
        "deal.creation",
    ]


def test_event_id_is_portal_type_object_event_id_and_time() -> None:
    ids = [e.event_id for e in verify(*delivery(EVENTS)).events]
    assert ids == [
        "62515:contact.creation:123:1:1564113600000",
        "62515:contact.propertyChange:123:2:1564113600001",
        "62515:deal.creation:456:1:1564113600002",
    ]


def test_event_ids_are_stable_across_retries() -> None:
    retried = [{**e, "attemptNumber": 3} for e in reversed(EVENTS)]
    first = {e.event_id for e in verify(*delivery(EVENTS)).events}
    again = {e.event_id for e in verify(*delivery(retried)).events}
    assert first == again


def test_element_without_event_id_uses_its_fingerprint() -> None:
    event = verify(*delivery([{"portalId": 1}])).events[0]
    assert event.event_id.startswith("sha256:")


def test_empty_batch_publishes_nothing() -> None:
    assert verify(*delivery([])).events == ()


def test_public_url_is_what_the_signature_covers() -> None:
    body, headers = delivery(EVENTS)
    internal = "http://10.0.0.7:8080/webhooks/hubspot"
    assert verify(body, headers, url=internal, public_url=PUBLIC).events
    with pytest.raises(SignatureError, match="bad_signature"):
        verify(body, headers, url=internal)


def test_v3_uri_is_percent_decoded_as_hubspot_documents() -> None:
    body, timestamp = b"[]", str(int(NOW * 1000))
    decoded = "POST" + PUBLIC + "?next=a:b/c@d" + "[]" + timestamp
    digest = hmac.new(SECRET.encode(), decoded.encode(), hashlib.sha256).digest()
    headers = {
        "X-HubSpot-Signature-v3": base64.b64encode(digest).decode(),
        "X-HubSpot-Request-Timestamp": timestamp,
    }
    assert verify(body, headers, url=PUBLIC + "?next=a%3Ab%2fc%40d").events == ()


@pytest.mark.parametrize("version", ["v1", "v2"])
def test_legacy_signature_versions_are_accepted(version: str) -> None:
    assert len(verify(*delivery(EVENTS, version=version)).events) == 3


def test_unknown_legacy_version_is_malformed() -> None:
    body, headers = delivery(EVENTS, version="v1")
    with pytest.raises(SignatureError, match="malformed_header"):
        verify(body, {**headers, "X-HubSpot-Signature-Version": "v9"})


def test_v3_alone_decides_when_both_are_present() -> None:
    body, legacy = delivery(EVENTS, version="v1")
    _, v3 = delivery(EVENTS[:1])
    with pytest.raises(SignatureError, match="bad_signature"):
        verify(body, {**legacy, **v3})


def test_v3_timestamp_is_read_as_milliseconds() -> None:
    body = orjson.dumps(EVENTS)
    in_seconds = PROVIDER.sign(body, SECRET, NOW / 1000, url=PUBLIC)  # header says 1700000000
    assert in_seconds["X-HubSpot-Request-Timestamp"] == str(int(NOW))
    with pytest.raises(SignatureError, match="stale_timestamp"):
        verify(body, in_seconds)
