"""HubSpot webhooks (app webhook subscriptions and workflow webhooks).

Signatures, strongest first; a request carrying ``X-HubSpot-Signature-v3`` is judged by
v3 alone:

- v3: ``X-HubSpot-Signature-v3`` = base64 HMAC-SHA256, keyed by the app's client secret,
  of ``method + URI + raw body + timestamp``, with ``X-HubSpot-Request-Timestamp`` in
  epoch **milliseconds**. The URI is decoded as HubSpot documents for v3 (``%3A %2F %3F
  %40 %21 %24 %27 %28 %29 %2A %2C %3B`` become the characters they encode).
- v2: ``X-HubSpot-Signature`` with ``X-HubSpot-Signature-Version: v2`` = hex SHA-256 (plain,
  not HMAC) of ``client_secret + method + URI + raw body``.
- v1: the same headers with ``v1`` = hex SHA-256 of ``client_secret + raw body``.

The URI is the full URL HubSpot was given (scheme, host, path, query in original order):
the source's ``public_url`` when configured, else the request URL as the ingress saw it
(wrong behind a proxy that rewrites scheme, host or path).

Time window (v3 only): ``tolerance_seconds`` (300 s, HubSpot's five minutes) in both
directions, checked after the signature. v1 and v2 sign no time, so a captured request can
be replayed; its events then carry the same dedupe IDs and are dropped downstream.

Events: the body is a JSON array of up to 100 events; each element becomes one event whose
body is that element re-serialised with orjson (key order kept, whitespace dropped: the
bytes are not a slice of what HubSpot signed, which covered the whole array). Event ID (the
dedupe key): ``{portalId}:{subscriptionType}:{objectId}:{eventId}:{occurredAt}``, because
HubSpot says ``eventId`` alone is not guaranteed unique; missing parts read ``-``; an element
without ``eventId`` uses its fingerprint. Event type: ``subscriptionType`` (older payloads:
``eventType``), else ``unknown``. An empty array publishes nothing; a verified body that is
not an array is accepted as one event of the raw body (the fingerprint when no ID can be
read), for the processors to dead-letter.

Retries: on connection failure, a 5 s timeout or any 4xx/5xx, up to 10 times over 24 hours;
no ordering (use ``occurredAt``); up to 10 concurrent requests per account.
"""

from __future__ import annotations

import hashlib
import re
from typing import Any, ClassVar, Literal

import orjson
from pydantic import Field

from ingress.providers.base import (
    RawRequest,
    SignatureError,
    SourceConfig,
    VerifiedWebhook,
    WebhookEvent,
    accept,
    any_matches,
    check_hmac,
    check_timestamp,
    decode_signature,
    encode_digest,
    hmac_digest,
    make_event,
    parse_timestamp,
    require_header,
    text_field,
)

V3_HEADER = "X-HubSpot-Signature-v3"
_DECODED = {
    "%3A": ":",
    "%2F": "/",
    "%3F": "?",
    "%40": "@",
    "%21": "!",
    "%24": "$",
    "%27": "'",
    "%28": "(",
    "%29": ")",
    "%2A": "*",
    "%2C": ",",
    "%3B": ";",
}
_ENCODED = re.compile("|".join(_DECODED), re.IGNORECASE)
_ID_FIELDS = ("portalId", "type", "objectId", "eventId", "occurredAt")


class HubSpotConfig(SourceConfig):
    provider: Literal["hubspot"] = "hubspot"
    public_url: str | None = Field(
        None,
        pattern=r"^https?://",
        description="The exact target URL given to HubSpot; v2 and v3 signatures cover it. "
        "Unset: the URL of the request as the ingress received it.",
    )


class HubSpotProvider:
    name: ClassVar[str] = "hubspot"
    config_model: ClassVar[type[SourceConfig]] = HubSpotConfig

    def verify(self, request: RawRequest, config: HubSpotConfig, now: float) -> VerifiedWebhook:
        uri = config.public_url or request.url
        if V3_HEADER in request.headers:
            _verify_v3(request, uri, config, now)
        else:
            _verify_legacy(request, uri, config.secret_values())
        return accept(request, config, self.name, _events(request.body))

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]:
        """``extra``: ``version`` (v1, v2, v3; default v3), ``method``, ``url``."""
        version = extra.get("version", "v3")
        method = extra.get("method", "POST")
        url = extra.get("url", "https://hooks.example.com/webhooks/hubspot")
        headers = {"Content-Type": "application/json"}
        if version == "v3":
            timestamp = round(now * 1000)
            digest = hmac_digest(secret.encode(), _v3_message(method, url, body, timestamp))
            headers[V3_HEADER] = encode_digest(digest, "base64")
            headers["X-HubSpot-Request-Timestamp"] = str(timestamp)
        else:
            digest = _legacy_digest(secret.encode(), version, method, url, body)
            headers["X-HubSpot-Signature"] = encode_digest(digest, "hex")
            headers["X-HubSpot-Signature-Version"] = version
        return headers


def _verify_v3(request: RawRequest, uri: str, config: HubSpotConfig, now: float) -> None:
    signature = require_header(request, V3_HEADER)
    timestamp = parse_timestamp(require_header(request, "X-HubSpot-Request-Timestamp"))
    message = _v3_message(request.method, uri, request.body, timestamp)
    check_hmac(config.secret_values(), message, [signature], "base64")
    check_timestamp(timestamp / 1000, now, config.tolerance_seconds, reject_future=True)


def _verify_legacy(request: RawRequest, uri: str, secrets: list[bytes]) -> None:
    signature = require_header(request, "X-HubSpot-Signature")
    version = require_header(request, "X-HubSpot-Signature-Version")
    if version not in ("v1", "v2"):
        raise SignatureError("malformed_header")
    received = decode_signature(signature, "hex", hashlib.sha256().digest_size)
    expected = [_legacy_digest(s, version, request.method, uri, request.body) for s in secrets]
    if not any_matches(expected, [received]):
        raise SignatureError("bad_signature")


def _v3_message(method: str, uri: str, body: bytes, timestamp: int) -> bytes:
    decoded = _ENCODED.sub(lambda m: _DECODED[m.group().upper()], uri)
    return (method + decoded).encode() + body + str(timestamp).encode()


def _legacy_digest(secret: bytes, version: str, method: str, uri: str, body: bytes) -> bytes:
    signed = secret + (method + uri).encode() if version == "v2" else secret
    return hashlib.sha256(signed + body).digest()


def _events(body: bytes) -> list[WebhookEvent]:
    try:
        batch = orjson.loads(body)
        elements = [(e, orjson.dumps(e)) for e in batch] if isinstance(batch, list) else None
    except (orjson.JSONDecodeError, orjson.JSONEncodeError):
        # Not JSON, or an element orjson cannot write back (nesting deeper than 254 levels,
        # integers beyond 64 bits): one event of the raw body, for the processors to reject.
        return [make_event(body, None, None)]
    if elements is None:
        return [_event(batch, body)]
    return [_event(element, element_body) for element, element_body in elements]


def _event(element: Any, body: bytes) -> WebhookEvent:
    if not isinstance(element, dict):
        return make_event(body, None, None)
    event_type = text_field(element.get("subscriptionType")) or text_field(element.get("eventType"))
    return make_event(body, _dedupe_id(element, event_type), event_type)


def _dedupe_id(element: dict[str, Any], event_type: str | None) -> str | None:
    if text_field(element.get("eventId")) is None:
        return None
    values = {**element, "type": event_type}
    return ":".join(text_field(values.get(name)) or "-" for name in _ID_FIELDS)


PROVIDER = HubSpotProvider()
