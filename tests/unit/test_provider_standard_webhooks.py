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


def _wrong_entry() -> str:
    """A well-formed v1 entry (a base64 SHA-256 digest) signed with another secret."""
    other = "whsec_" + base64.b64encode(b"other key").decode()
    return PROVIDER.sign(BODY, other, NOW, msg_id="msg_1")["webhook-signature"]


def test_unreadable_entries_beside_a_valid_one_are_skipped() -> None:
    # The header: the official libraries try every v1 entry and accept it.
    headers = signed()
    valid = headers["webhook-signature"]
    headers["webhook-signature"] = f"{_wrong_entry()} v2,abc {valid} v1,Zm9v no-comma"
    assert verify(headers).events[0].event_id == "msg_1"


def test_unreadable_entries_beside_a_wrong_one_are_a_bad_signature() -> None:
    headers = {**signed(), "webhook-signature": f"v1,Zm9v {_wrong_entry()} no-comma"}
    with pytest.raises(SignatureError, match="bad_signature"):
        verify(headers)


@pytest.mark.parametrize("header", ["v1,Zm9v", "v1,Zm9v v1,not*base64", "no-comma v1,"])
def test_header_without_any_readable_v1_entry_is_malformed(header: str) -> None:
    with pytest.raises(SignatureError, match="malformed_header"):
        verify({**signed(), "webhook-signature": header})
