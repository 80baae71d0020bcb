"""Standard Webhooks, and Svix (which sends the same scheme).

Headers: ``webhook-id``, ``webhook-timestamp`` (unix seconds), ``webhook-signature``; Svix
sends ``svix-id``, ``svix-timestamp``, ``svix-signature`` (white-labelled Svix accounts
send the ``webhook-*`` names). The ``webhook-*`` set is used when ``webhook-signature`` is
present, else the ``svix-*`` set, whichever provider name the source is registered under.

Signature: ``webhook-signature`` is a space-separated list of ``<version>,<base64>``; each
``v1`` entry is the base64 HMAC-SHA256 of ``"{id}.{timestamp}.{raw body}"``, keyed by the
base64-decoded secret after its ``whsec_`` prefix (a missing prefix and unpadded base64 are
accepted, as the official libraries do; a secret that is not base64 is refused when the
sources file loads). Any entry that cannot match is skipped, as the official
``standardwebhooks`` and ``svix`` libraries skip it by trying every ``v1`` entry: entries of
other versions (``v1a``, asymmetric), entries without a comma, and ``v1`` entries that are
not a base64 SHA-256 digest. The header is ``malformed_header`` only when nothing in it can
be read: no ``<version>,<value>`` entry at all, or ``v1`` entries of which none decodes. A
list without any ``v1`` is ``bad_signature``.

Time window: ``tolerance_seconds`` (300 s by default) in both directions, as the
specification's libraries do: ``stale_timestamp`` / ``future_timestamp``, checked after
the signature.

Event ID (the dedupe key): ``webhook-id`` (``msg_…``), stable across retries. Event type:
body ``type``, else ``unknown``; a verified body that is not a JSON object is accepted.

Retries: the specification recommends exponential backoff over about three days and
honouring ``Retry-After`` on 429/502/504; hosted Svix retries after 5 s, 5 min, 30 min,
2 h, 5 h, 10 h and 10 h, and waits 15 s for an answer.
"""

from __future__ import annotations

import hashlib
from typing import ClassVar, Literal

from pydantic import SecretStr, field_validator

from ingress.providers.base import (
    RawRequest,
    SignatureError,
    SourceConfig,
    VerifiedWebhook,
    accept,
    b64decode_lenient,
    check_hmac,
    check_timestamp,
    encode_digest,
    hmac_digest,
    make_event,
    parse_json_object,
    parse_timestamp,
    require_header,
    text_field,
)

SECRET_PREFIX = "whsec_"  # noqa: S105 - the format's prefix, not a secret


class StandardWebhooksConfig(SourceConfig):
    provider: Literal["standard_webhooks", "svix"] = "standard_webhooks"

    @field_validator("secrets")
    @classmethod
    def _secrets_are_base64(cls, secrets: tuple[SecretStr, ...]) -> tuple[SecretStr, ...]:
        if not all(signing_key(s.get_secret_value()) for s in secrets):
            raise ValueError("secrets must be base64 (optionally prefixed by whsec_)")
        return secrets

    def signing_keys(self) -> list[bytes]:
        return [signing_key(s.get_secret_value()) or b"" for s in self.secrets]


class StandardWebhooksProvider:
    name: ClassVar[str] = "standard_webhooks"
    config_model: ClassVar[type[SourceConfig]] = StandardWebhooksConfig

    def verify(
        self, request: RawRequest, config: StandardWebhooksConfig, now: float
    ) -> VerifiedWebhook:
        family = _header_family(request)
        message_id = require_header(request, family + "id")
        timestamp = parse_timestamp(require_header(request, family + "timestamp"))
        signatures = _v1_signatures(require_header(request, family + "signature"))
        signed = _signed(message_id, timestamp, request.body)
        check_hmac(config.signing_keys(), signed, signatures, "base64")
        check_timestamp(timestamp, now, config.tolerance_seconds, reject_future=True)
        event_type = text_field((parse_json_object(request.body) or {}).get("type"))
        return accept(
            request, config, self.name, [make_event(request.body, message_id, event_type)]
        )

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]:
        """``extra``: ``msg_id`` (default: derived from the body) and ``family``
        (``webhook`` or ``svix``; default: this provider's own)."""
        key = signing_key(secret)
        if key is None:
            raise ValueError("secret is not base64")
        message_id = extra.get("msg_id", "msg_" + hashlib.sha256(body).hexdigest()[:24])
        family = extra.get("family", "svix" if self.name == "svix" else "webhook")
        timestamp = int(now)
        signature = encode_digest(hmac_digest(key, _signed(message_id, timestamp, body)), "base64")
        return {
            f"{family}-id": message_id,
            f"{family}-timestamp": str(timestamp),
            f"{family}-signature": f"v1,{signature}",
            "Content-Type": "application/json",
        }


class SvixProvider(StandardWebhooksProvider):
    """The same scheme under the name Svix users look for; signs with ``svix-*`` headers."""

    name: ClassVar[str] = "svix"


def signing_key(secret: str) -> bytes | None:
    """The HMAC key of a ``whsec_<base64>`` secret, or None when it is not base64."""
    return b64decode_lenient(secret.removeprefix(SECRET_PREFIX)) or None


def _header_family(request: RawRequest) -> str:
    if "webhook-signature" not in request.headers and "svix-signature" in request.headers:
        return "svix-"
    return "webhook-"


def _signed(message_id: str, timestamp: int, body: bytes) -> bytes:
    return f"{message_id}.{timestamp}.".encode() + body


def _v1_signatures(header: str) -> list[str]:
    """The values of the ``v1`` entries; entries without a comma are skipped, unless every
    entry lacks one (``malformed_header``). :func:`check_hmac` skips undecodable values."""
    entries = [entry.partition(",") for entry in header.split()]
    if not any(separator for _, separator, _ in entries):
        raise SignatureError("malformed_header")
    return [value for version, separator, value in entries if version == "v1" and separator]


PROVIDER = StandardWebhooksProvider()
SVIX = SvixProvider()
