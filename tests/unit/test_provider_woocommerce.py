"""WooCommerce specifics: the unsigned creation ping, dedupe keys from the payload."""

from __future__ import annotations

import orjson
import pytest
from multidict import CIMultiDict

from ingress.providers.base import RawRequest, SignatureError, VerifiedWebhook, body_fingerprint
from ingress.providers.woocommerce import PROVIDER, WooCommerceConfig
from tests.conftest import DATA

SECRET = "wc-secret"
ORDER = (DATA / "payloads" / "woocommerce" / "order-retrieve-v3.json").read_bytes()


def verify(body: bytes, headers: dict[str, str]) -> VerifiedWebhook:
    config = WooCommerceConfig(name="shop", secrets=(SECRET,))
    return PROVIDER.verify(RawRequest("POST", "https://x/", CIMultiDict(headers), body), config, 0)


def event_id(body: bytes, topic: str = "order.updated") -> str:
    return verify(body, PROVIDER.sign(body, SECRET, 0, topic=topic)).events[0].event_id


def test_creation_ping_is_accepted_without_events() -> None:
    ping = {"Content-Type": "application/x-www-form-urlencoded"}
    webhook = verify(b"webhook_id=42", ping)
    assert (webhook.provider, webhook.events) == ("woocommerce", ())


@pytest.mark.parametrize("body", [b"webhook_id=", b"webhook_id=42&x=1", b'{"id": 1}'])
def test_unsigned_request_that_is_not_the_ping_is_missing_header(body: bytes) -> None:
    with pytest.raises(SignatureError, match="missing_header"):
        verify(body, {})


def test_ping_body_with_a_wrong_signature_is_rejected() -> None:
    with pytest.raises(SignatureError, match="bad_signature"):
        verify(b"webhook_id=42", {"X-WC-Webhook-Signature": "A" * 43 + "="})


def test_order_event_id_is_topic_id_modification_time_and_body_digest() -> None:
    order = orjson.loads(ORDER)
    event = verify(ORDER, PROVIDER.sign(ORDER, SECRET, 0)).events[0]
    prefix = f"order.updated:{order['id']}:{order['date_modified_gmt']}:"
    assert event.event_id.startswith(prefix)
    assert len(event.event_id) == len(prefix) + 16
    assert event.event_type == "order.updated"


def test_redelivery_of_the_same_state_gets_the_same_id() -> None:
    first = PROVIDER.sign(ORDER, SECRET, 0)
    again = {**first, "X-WC-Webhook-Delivery-ID": "a-new-one-every-time"}
    assert verify(ORDER, first).events == verify(ORDER, again).events


def test_changes_within_one_second_get_different_ids() -> None:
    order = orjson.loads(ORDER)
    changed = orjson.dumps({**order, "status": "completed"})
    assert event_id(ORDER) != event_id(changed)


def test_deleted_resource_has_no_modification_time_in_its_id() -> None:
    assert event_id(b'{"id": 727}', "order.deleted").startswith("order.deleted:727:-:")


def test_action_topic_without_an_id_uses_the_body_fingerprint() -> None:
    body = b'{"action": "woocommerce_custom", "arg": 5}'
    assert event_id(body, "action.woocommerce_custom") == body_fingerprint(body)
