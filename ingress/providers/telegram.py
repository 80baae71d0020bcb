"""Telegram Bot API webhooks.

Signature: none. Telegram signs nothing; each request carries
``X-Telegram-Bot-Api-Secret-Token``, the ``secret_token`` given to ``setWebhook`` (1-256
characters of ``A-Za-z0-9_-``; the config model refuses other secrets). The token is
compared in constant time with every configured secret (their SHA-256 digests are
compared, so not even the length leaks). The token proves the sender knows the secret,
not that the body is unchanged: TLS is what protects the body. No time window.

Event ID (the dedupe key): body ``update_id`` as a decimal string; IDs are per bot, and a
source is one bot. (After a week without updates Telegram may restart the sequence at a
random number, far beyond any dedupe horizon.) Event type: the one optional field of the
Update that is present (``message``, ``edited_message``, ``callback_query``, …), else
``unknown``. A verified body that is not a JSON object is accepted under its fingerprint.

Retries: on any non-2xx Telegram retries at once, then doubling up to a 60-120 s cap,
honouring ``Retry-After``, for about 24 hours; a failing update blocks later updates of the
same chat meanwhile.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar, Literal

from pydantic import SecretStr, field_validator

from ingress.providers.base import (
    RawRequest,
    SignatureError,
    SourceConfig,
    VerifiedWebhook,
    accept,
    any_matches,
    make_event,
    parse_json_object,
    require_header,
    text_field,
)

HEADER = "X-Telegram-Bot-Api-Secret-Token"
_TOKEN = re.compile(r"[A-Za-z0-9_-]{1,256}")


class TelegramConfig(SourceConfig):
    provider: Literal["telegram"] = "telegram"

    @field_validator("secrets")
    @classmethod
    def _secrets_are_tokens(cls, secrets: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if not all(_TOKEN.fullmatch(s.get_secret_value()) for s in secrets):
            raise ValueError("Telegram secret tokens are 1-256 characters of A-Z a-z 0-9 _ -")
        return secrets


class TelegramProvider:
    name: ClassVar[str] = "telegram"
    config_model: ClassVar[type[SourceConfig]] = TelegramConfig

    def verify(self, request: RawRequest, config: TelegramConfig, now: float) -> VerifiedWebhook:
        token = require_header(request, HEADER)
        if not _TOKEN.fullmatch(token):
            raise SignatureError("malformed_header")
        expected = [hashlib.sha256(secret).digest() for secret in config.secret_values()]
        if not any_matches(expected, [hashlib.sha256(token.encode()).digest()]):
            raise SignatureError("bad_signature")
        update = parse_json_object(request.body) or {}
        event_id = text_field(update.get("update_id"))
        return accept(
            request, config, self.name, [make_event(request.body, event_id, _kind(update))]
        )

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]:
        return {HEADER: secret, "Content-Type": "application/json"}


def _kind(update: dict[str, Any]) -> str | None:
    """The Update's payload field: every Update has ``update_id`` and at most one other."""
    return next((k for k, v in update.items() if k != "update_id" and v is not None), None)


PROVIDER = TelegramProvider()
