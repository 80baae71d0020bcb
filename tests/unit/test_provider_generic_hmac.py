"""Generic HMAC specifics: each algorithm and encoding, ID and type headers, templates."""

from __future__ import annotations

import hashlib
import hmac
from typing import Any

import pytest
from multidict import CIMultiDict
from pydantic import ValidationError

from ingress.providers.base import RawRequest, VerifiedWebhook, body_fingerprint
from ingress.providers.generic_hmac import PROVIDER, GenericHmacConfig

SECRET = "generic-secret"
BODY = b'{"event": "ping"}'


def verify(headers: dict[str, str], **settings: Any) -> VerifiedWebhook:
    config = GenericHmacConfig(name="g", secrets=(SECRET,), **settings)
    request = RawRequest("POST", "https://x/", CIMultiDict(headers), BODY)
    return PROVIDER.verify(request, config, 1_700_000_000)


def test_default_is_hex_hmac_sha256_of_the_body_in_x_signature() -> None:
    digest = hmac.new(SECRET.encode(), BODY, hashlib.sha256).hexdigest()
    assert verify({"X-Signature": digest}).events


@pytest.mark.parametrize("algorithm", ["sha1", "sha256", "sha512"])
@pytest.mark.parametrize("encoding", ["hex", "base64"])
def test_every_algorithm_and_encoding_round_trips(algorithm: str, encoding: str) -> None:
    settings = {"algorithm": algorithm, "encoding": encoding, "signature_header": "X-Sig"}
    headers = PROVIDER.sign(BODY, SECRET, 0, **settings)
    assert verify(headers, **settings).events


def test_event_id_and_type_come_from_the_configured_headers() -> None:
    headers = {**PROVIDER.sign(BODY, SECRET, 0), "X-Event-Id": "e-1", "X-Event-Type": "ping"}
    event = verify(headers, event_id_header="X-Event-Id", event_type_header="X-Event-Type").events[
        0
    ]
    assert (event.event_id, event.event_type) == ("e-1", "ping")


def test_without_an_event_id_header_the_body_fingerprint_is_the_id() -> None:
    event = verify(PROVIDER.sign(BODY, SECRET, 0), event_id_header="X-Event-Id").events[0]
    assert (event.event_id, event.event_type) == (body_fingerprint(BODY), "unknown")


@pytest.mark.parametrize(
    ("signed_payload", "timestamp_header"),
    [
        ("{body}{body}", None),
        ("{timestamp}", "X-T"),
        ("{body}", "X-T"),
        ("{timestamp}.{body}", None),
        ("{body}.{nonce}", None),
    ],
)
def test_config_refuses_a_template_that_does_not_fit(
    signed_payload: str, timestamp_header: str | None
) -> None:
    with pytest.raises(ValidationError, match="signed_payload"):
        GenericHmacConfig(
            name="g",
            secrets=(SECRET,),
            signed_payload=signed_payload,
            timestamp_header=timestamp_header,
        )
