"""Standard Webhooks / Svix and the generic fallback -> Passthrough, on the spec's examples."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from processors.normalisers import normalise
from processors.normalisers.base import InvalidPayload
from schemas.events import Passthrough
from tests.unit.test_normalise_base import RECEIVED_AT, only, raw_event, sample

OCCURRED = datetime(2022, 11, 3, 20, 26, 10, 344522, tzinfo=UTC)
CONTACT_ID = "1f81eb52-5198-4599-803e-771906343485"


def run(provider: str, body: bytes, content_type: str = "application/json") -> Passthrough:
    event = only(normalise(raw_event(provider, "contact.created", body, content_type=content_type)))
    assert event.type == "dev.hookline.passthrough.received"
    assert isinstance(event.data, Passthrough)
    return event.data


@pytest.mark.parametrize(
    "name",
    [
        "spec_contact_created_full.json",
        "spec_contact_created_thin.json",
        "spec_contact_created_minified.json",
    ],
)
@pytest.mark.parametrize("provider", ["standard_webhooks", "svix"])
def test_standard_webhooks_are_keyed_by_the_senders_entity(provider: str, name: str) -> None:
    data = run(provider, sample("standard-webhooks", name))
    assert data.id == f"{provider}:src:{CONTACT_ID}"
    assert data.external_ids == {"src": CONTACT_ID}
    assert data.updated_at == OCCURRED


def test_standard_webhook_without_entity_id_is_keyed_by_event() -> None:
    data = run("standard_webhooks", sample("standard-webhooks", "spec_example_payload.json"))
    assert data.id == "standard_webhooks:src:evt-1"
    assert data.payload["data"] == {"foo": "bar", "fizzbuzz": 2}


def test_standard_webhook_without_timestamp_uses_received_at() -> None:
    assert run("svix", b'{"type": "a.b", "data": {}}').updated_at == RECEIVED_AT


@pytest.mark.parametrize(
    "body", [b'{"type": "a", "timestamp": "soon"}', b'{"type": "a", "data": 1}', b"[1]", b"x"]
)
def test_malformed_standard_webhooks_are_invalid(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        run("standard_webhooks", body)


@pytest.mark.parametrize("provider", ["generic_hmac", "acme_unregistered"])
def test_generic_json_passes_through_whole(provider: str) -> None:
    data = run(provider, b'[{"a": 1}, {"b": null}]')
    assert data.payload == [{"a": 1}, {"b": None}]
    assert data.id == f"{provider}:src:evt-1"
    assert data.updated_at == RECEIVED_AT


def test_generic_form_body_becomes_an_object() -> None:
    body = b"order=17&tag=a&tag=b&empty="
    data = run("generic_hmac", body, "Application/X-WWW-Form-Urlencoded; charset=utf-8")
    assert data.payload == {"order": "17", "tag": ["a", "b"], "empty": ""}


@pytest.mark.parametrize("body", [b"plain text", b'"a string"', b"42", b""])
def test_generic_body_that_is_no_object_or_array_is_invalid(body: bytes) -> None:
    with pytest.raises(InvalidPayload):
        run("generic_hmac", body)
