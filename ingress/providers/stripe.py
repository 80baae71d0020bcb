"""Stripe webhooks.

Signature: ``Stripe-Signature: t=<unix seconds>,v1=<hex>[,v1=<hex>…][,v0=<hex>]``. Each
``v1`` is the hex HMAC-SHA256 of ``"{t}.{raw body}"`` keyed by the whole ``whsec_…`` string
as UTF-8 (not base64-decoded, unlike Standard Webhooks). Stripe sends several ``v1`` while
an endpoint secret is being rolled: any match is enough. ``v0`` (a legacy test-mode scheme)
and unknown keys are ignored. Items that cannot match are skipped, as Stripe's libraries
skip them (they compare every ``v1`` and pass over items without ``=``): items that are not
``key=value`` and ``v1`` values that are not 64 hex digits. A header without exactly one
``t``, or whose ``v1`` entries are all unreadable, is ``malformed_header``; a header with no
``v1`` at all is ``bad_signature``.

Time window: ``tolerance_seconds`` (300 s by default) in both directions. Stripe's libraries
reject only old timestamps; we also reject ones more than the tolerance ahead
(``future_timestamp``): Stripe signs with its current time, and a far-future signature
would stay replayable for that much longer. The signature is checked first, so
``stale_timestamp`` and ``future_timestamp`` always describe genuinely signed requests
(replays or clock trouble), which is what their metric should show.

Event ID (the dedupe key): body ``id`` (``evt_…``), stable across Stripe's retries. Event
type: body ``type`` (``customer.created``). A verified body that is not a JSON object is
still accepted under its body fingerprint and type ``unknown``; the processors dead-letter it.

Retries: live-mode deliveries are retried with backoff for up to three days on any non-2xx
answer; deliveries may be duplicated and arrive out of order.
"""

from __future__ import annotations

from typing import ClassVar, Literal

from ingress.providers.base import (
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
    parse_json_object,
    parse_timestamp,
    require_header,
    text_field,
)


class StripeConfig(SourceConfig):
    provider: Literal["stripe"] = "stripe"


class StripeProvider:
    name: ClassVar[str] = "stripe"
    config_model: ClassVar[type[SourceConfig]] = StripeConfig

    def verify(self, request: RawRequest, config: StripeConfig, now: float) -> VerifiedWebhook:
        timestamp, signatures = _parse_header(require_header(request, "Stripe-Signature"))
        check_hmac(config.secret_values(), _signed(timestamp, request.body), signatures, "hex")
        check_timestamp(timestamp, now, config.tolerance_seconds, reject_future=True)
        event = parse_json_object(request.body) or {}
        return accept(
            request,
            config,
            self.name,
            [make_event(request.body, text_field(event.get("id")), text_field(event.get("type")))],
        )

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]:
        timestamp = int(now)
        digest = hmac_digest(secret.encode(), _signed(timestamp, body))
        return {
            "Stripe-Signature": f"t={timestamp},v1={encode_digest(digest, 'hex')}",
            "Content-Type": "application/json; charset=utf-8",
        }


def _signed(timestamp: int, body: bytes) -> bytes:
    return f"{timestamp}.".encode() + body


def _parse_header(header: str) -> tuple[int, list[str]]:
    """``(t, [v1 signatures])`` from ``t=…,v1=…,v1=…,v0=…``; items without ``=`` skipped."""
    timestamps: list[str] = []
    signatures: list[str] = []
    for item in header.split(","):
        key, separator, value = item.strip().partition("=")
        if not separator:
            continue
        if key == "t":
            timestamps.append(value)
        elif key == "v1":
            signatures.append(value)
    if len(timestamps) != 1:
        raise SignatureError("malformed_header")
    return parse_timestamp(timestamps[0]), signatures


PROVIDER = StripeProvider()
