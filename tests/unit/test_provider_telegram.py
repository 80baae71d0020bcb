"""Telegram specifics: update_id is the dedupe key, the Update's field is the type."""

from __future__ import annotations

import pytest
from multidict import CIMultiDict
from pydantic import ValidationError

from ingress.providers.base import RawRequest, VerifiedWebhook, body_fingerprint
from ingress.providers.telegram import HEADER, PROVIDER, TelegramConfig
from tests.conftest import DATA

TOKEN = "bot-secret_token"
SAMPLES = {
    "message_text_first_example.json": "message",
    "message_text.json": "message",
    "message_with_entities.json": "message",
    "edited_message.json": "edited_message",
    "inline_query.json": "inline_query",
    "callback_query.json": "callback_query",
}


def verify(body: bytes) -> VerifiedWebhook:
    config = TelegramConfig(name="bot", secrets=(TOKEN,))
    request = RawRequest("POST", "https://x/", CIMultiDict({HEADER: TOKEN}), body)
    return PROVIDER.verify(request, config, 0)


@pytest.mark.parametrize(("sample", "kind"), SAMPLES.items())
def test_sample_update_is_typed_by_its_field(sample: str, kind: str) -> None:
    body = (DATA / "payloads" / "telegram" / sample).read_bytes()
    event = verify(body).events[0]
    assert (event.event_type, event.body) == (kind, body)


def test_updates_with_the_same_update_id_get_the_same_event_id() -> None:
    folder = DATA / "payloads" / "telegram"
    ids = {verify((folder / sample).read_bytes()).events[0].event_id for sample in SAMPLES}
    assert ids == {"10000"}


def test_update_without_update_id_uses_the_body_fingerprint() -> None:
    body = b'{"message": {"text": "hi"}}'
    event = verify(body).events[0]
    assert (event.event_id, event.event_type) == (body_fingerprint(body), "message")


@pytest.mark.parametrize("secret", ["", "has space", "ünïcode", "x" * 257])
def test_config_refuses_a_secret_token_telegram_would_not_accept(secret: str) -> None:
    with pytest.raises(ValidationError, match="secret tokens") as caught:
        TelegramConfig(name="bot", secrets=(secret,))
    assert not secret or secret not in str(caught.value)
