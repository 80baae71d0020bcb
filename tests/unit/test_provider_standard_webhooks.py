"""Standard Webhooks / Svix specifics: secret formats, version lists, header families."""

from __future__ import annotations

import base64

import pytest
from multidict import CIMultiDict
from pydantic import ValidationError

from ingress.providers.base import RawRequest, SignatureError, VerifiedWebhook
from ingress.providers.standard_webhooks import PROVIDER, SVIX, StandardWebhooksConfig
from tests.conftest import DATA

KEY = bytes(range(25))  # 25 bytes: its base64 ends in "=="
SECRET = "whsec_" + base64.b64encode(KEY).decode()
NOW = 1_700_000_000
BODY = (DATA / "payloads" / "standard-webhooks" / "spec_example_payload.json").read_bytes()


def verify(
    headers: dict[str, str], secret: str = SECRET, provider: str = "standard_webhooks"
) -> VerifiedWebhook:
    config = StandardWebhooksConfig(name="sw", provider=provider, secrets=(secret,))
    request = RawRequest("POST", "https://x/", CIMultiDict(headers), BODY)
    return (SVIX if provider == "svix" else PROVIDER).verify(request, config, NOW)


def signed(family: str = "webhook") -> dict[str, str]:
    return PROVIDER.sign(BODY, SECRET, NOW, msg_id="msg_1", family=family)


def test_event_id_is_the_message_id_and_type_comes_from_the_body() -> None:
    event = verify(signed()).events[0]
    assert (event.event_id, event.event_type) == ("msg_1", "example.event")


@pytest.mark.parametrize(
    "secret", [SECRET, SECRET.removeprefix("whsec_"), SECRET.rstrip("="), SECRET.rstrip("=")[6:]]
)
def test_secret_with_or_without_prefix_and_padding_is_accepted(secret: str) -> None:
    assert verify(signed(), secret=secret).events


@pytest.mark.parametrize("secret", ["whsec_not*base64", "whsec_", "whsec_a"])
def test_config_refuses_a_secret_that_is_not_base64(secret: str) -> None:
    with pytest.raises(ValidationError, match="base64"):
        StandardWebhooksConfig(name="sw", secrets=(secret,))


def test_entries_of_other_versions_are_skipped() -> None:
    headers = signed()
    headers["webhook-signature"] = "v1a,c2lnbmVk v2,other " + headers["webhook-signature"]
    assert verify(headers).events


def test_list_without_a_v1_entry_is_a_bad_signature() -> None:
    headers = {**signed(), "webhook-signature": "v1a,c2lnbmVk v2,other"}
    with pytest.raises(SignatureError, match="bad_signature"):
        verify(headers)


def test_svix_headers_are_accepted_by_a_standard_webhooks_source() -> None:
    assert verify(signed("svix")).provider == "standard_webhooks"


def test_white_labelled_webhook_headers_are_accepted_by_a_svix_source() -> None:
    assert verify(signed("webhook"), provider="svix").provider == "svix"


def test_webhook_headers_are_used_when_both_families_are_present() -> None:
    headers = {
        **signed("webhook"),
        "svix-id": "msg_x",
        "svix-timestamp": "1",
        "svix-signature": "x",
    }
    assert verify(headers).events[0].event_id == "msg_1"
