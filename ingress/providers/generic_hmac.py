"""Generic HMAC webhooks: any sender whose scheme fits a few settings, with no code.

Signature: the header ``signature_header`` holds ``signature_prefix`` followed by the
``encoding`` (hex or base64) of HMAC-``algorithm`` (sha1, sha256, sha512) of the signed
payload, keyed by the secret as UTF-8. The signed payload is ``signed_payload`` with
``{body}`` replaced by the raw body bytes and ``{timestamp}`` by the value of
``timestamp_header`` (unix seconds), e.g. ``"{timestamp}.{body}"``; the default is the body
alone. A value without the prefix, or that does not decode to one digest, is
``malformed_header``. One signature per header; rotation by configuring several secrets.

Time window: only with ``timestamp_header``: ``tolerance_seconds`` in both directions
(``stale_timestamp`` / ``future_timestamp``), checked after the signature.

Event ID (the dedupe key): the value of ``event_id_header`` when configured and present,
else the body fingerprint (``sha256:<hex>``: a retry with the same bytes dedupes, but two
deliveries of one event with different bytes do not). Event type: the value of
``event_type_header``, else ``unknown``.

Retries: whatever the sender does; every 401 and 503 we answer is visible in metrics.
"""

from __future__ import annotations

import re
from typing import ClassVar, Literal, Self

from pydantic import Field, model_validator

from ingress.providers.base import (
    Encoding,
    RawRequest,
    SignatureError,
    SourceConfig,
    VerifiedWebhook,
    accept,
    check_hmac,
    check_timestamp,
    encode_digest,
    hmac_digest,
    make_event,
    optional_header,
    parse_timestamp,
    require_header,
)

_PLACEHOLDER = re.compile(r"\{[^{}]*\}")


class GenericHmacConfig(SourceConfig):
    provider: Literal["generic_hmac"] = "generic_hmac"
    signature_header: str = Field("X-Signature", min_length=1, description="Signature header.")
    algorithm: Literal["sha1", "sha256", "sha512"] = Field("sha256", description="HMAC hash.")
    encoding: Encoding = Field("hex", description="How the digest is written: hex or base64.")
    signature_prefix: str = Field("", description='Text before the digest, e.g. "sha256=".')
    timestamp_header: str | None = Field(
        None, min_length=1, description="Header with the signed unix time in seconds, if any."
    )
    signed_payload: str = Field(
        "{body}",
        description='What is signed: "{body}" once, and "{timestamp}" iff timestamp_header.',
    )
    event_id_header: str | None = Field(None, min_length=1, description="Event ID header.")
    event_type_header: str | None = Field(None, min_length=1, description="Event type header.")

    @model_validator(mode="after")
    def _template_matches_headers(self) -> Self:
        placeholders = _PLACEHOLDER.findall(self.signed_payload)
        if placeholders.count("{body}") != 1 or set(placeholders) - {"{body}", "{timestamp}"}:
            raise ValueError('signed_payload needs "{body}" once; "{timestamp}" is the only other')
        if ("{timestamp}" in placeholders) != (self.timestamp_header is not None):
            raise ValueError('"{timestamp}" in signed_payload goes with timestamp_header')
        return self


class GenericHmacProvider:
    name: ClassVar[str] = "generic_hmac"
    config_model: ClassVar[type[SourceConfig]] = GenericHmacConfig

    def verify(self, request: RawRequest, config: GenericHmacConfig, now: float) -> VerifiedWebhook:
        header = require_header(request, config.signature_header)
        if not header.startswith(config.signature_prefix):
            raise SignatureError("malformed_header")
        timestamp = _timestamp(request, config)
        signed = _signed(config, timestamp, request.body)
        signature = header.removeprefix(config.signature_prefix)
        check_hmac(config.secret_values(), signed, [signature], config.encoding, config.algorithm)
        if timestamp is not None:
            check_timestamp(timestamp, now, config.tolerance_seconds, reject_future=True)
        event_id = _header(request, config.event_id_header)
        event_type = _header(request, config.event_type_header)
        return accept(request, config, self.name, [make_event(request.body, event_id, event_type)])

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]:
        """``extra``: the config's fields (``signature_header``, ``algorithm``, …), so that
        ``sign`` signs the way a source configured with the same values verifies. Other
        keys are ignored, as by every provider's ``sign``."""
        settings = {k: v for k, v in extra.items() if k in GenericHmacConfig.model_fields}
        config = GenericHmacConfig.model_validate({**settings, "name": "sign", "secrets": [secret]})
        timestamp = int(now) if config.timestamp_header else None
        digest = hmac_digest(secret.encode(), _signed(config, timestamp, body), config.algorithm)
        headers = {
            config.signature_header: config.signature_prefix
            + encode_digest(digest, config.encoding),
            "Content-Type": "application/json",
        }
        if config.timestamp_header:
            headers[config.timestamp_header] = str(timestamp)
        return headers


def _timestamp(request: RawRequest, config: GenericHmacConfig) -> int | None:
    if config.timestamp_header is None:
        return None
    return parse_timestamp(require_header(request, config.timestamp_header))


def _signed(config: GenericHmacConfig, timestamp: int | None, body: bytes) -> bytes:
    head, _, tail = config.signed_payload.partition("{body}")
    stamp = "" if timestamp is None else str(timestamp)
    return (
        head.replace("{timestamp}", stamp).encode()
        + body
        + tail.replace("{timestamp}", stamp).encode()
    )


def _header(request: RawRequest, name: str | None) -> str | None:
    return optional_header(request, name) if name else None


PROVIDER = GenericHmacProvider()
