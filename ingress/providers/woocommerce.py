"""WooCommerce webhooks.

Signature: ``X-WC-Webhook-Signature`` = base64 HMAC-SHA256 of the raw body, keyed by the
webhook's secret as UTF-8 (WooCommerce's default; a site can change the algorithm with a
filter, which this provider does not support). No timestamp is signed: no time window.

Creation ping: when a webhook is created or activated WooCommerce sends an **unsigned**
form-encoded ``webhook_id=<id>`` and expects 200. A request without a signature header whose
whole body is exactly that is accepted with no events (nothing is published). Anyone can
send it; it carries nothing, so accepting it costs nothing. Any other unsigned request is
``missing_header``.

Event ID (the dedupe key): ``X-WC-Webhook-Delivery-ID`` is new for every delivery, so the
key comes from the payload instead: ``{topic}:{id}:{date_modified_gmt}:{digest}``, where
topic is ``X-WC-Webhook-Topic`` (``order.updated``, which also names the resource, so order
727 and product 727 differ), ``date_modified_gmt`` falls back to ``date_modified`` or ``-``
(``*.deleted`` bodies are only ``{"id": …}``), and digest is the first 16 hex digits of the
body's SHA-256. The digest matters because ``date_modified`` has one-second precision: two
changes within one second carry different bodies and must not dedupe into one, while a
repeated delivery of the same state has the same bytes. A body without an ``id`` (``action.*``
topics) or that is not a JSON object uses its fingerprint. Event type: the topic, else
``unknown``.

Retries: none. After repeated failures (5 in the docs, 7 consecutive in the code) the
webhook is disabled, so every 503 we answer loses that delivery: keep outages short.
"""

from __future__ import annotations

import hashlib
import re
from typing import ClassVar, Literal

from ingress.providers.base import (
    RawRequest,
    SourceConfig,
    VerifiedWebhook,
    accept,
    check_hmac,
    encode_digest,
    hmac_digest,
    make_event,
    optional_header,
    parse_json_object,
    require_header,
    text_field,
)

SIGNATURE_HEADER = "X-WC-Webhook-Signature"
_PING = re.compile(rb"webhook_id=[0-9]{1,20}")


class WooCommerceConfig(SourceConfig):
    provider: Literal["woocommerce"] = "woocommerce"


class WooCommerceProvider:
    name: ClassVar[str] = "woocommerce"
    config_model: ClassVar[type[SourceConfig]] = WooCommerceConfig

    def verify(self, request: RawRequest, config: WooCommerceConfig, now: float) -> VerifiedWebhook:
        if optional_header(request, SIGNATURE_HEADER) is None and _PING.fullmatch(request.body):
            return accept(request, config, self.name, [])
        signature = require_header(request, SIGNATURE_HEADER)
        check_hmac(config.secret_values(), request.body, [signature], "base64")
        topic = optional_header(request, "X-WC-Webhook-Topic")
        event = make_event(request.body, _dedupe_id(topic, request.body), topic)
        return accept(request, config, self.name, [event])

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]:
        topic = extra.get("topic", "order.updated")
        resource, _, event = topic.partition(".")
        return {
            SIGNATURE_HEADER: encode_digest(hmac_digest(secret.encode(), body), "base64"),
            "X-WC-Webhook-Topic": topic,
            "X-WC-Webhook-Resource": resource,
            "X-WC-Webhook-Event": event,
            "X-WC-Webhook-Source": extra.get("site", "https://shop.example.com/"),
            "Content-Type": "application/json",
        }


def _dedupe_id(topic: str | None, body: bytes) -> str | None:
    payload = parse_json_object(body) or {}
    resource_id = text_field(payload.get("id"))
    if resource_id is None:
        return None
    modified = text_field(payload.get("date_modified_gmt")) or text_field(
        payload.get("date_modified")
    )
    digest = hashlib.sha256(body).hexdigest()[:16]
    return f"{topic or 'unknown'}:{resource_id}:{modified or '-'}:{digest}"


PROVIDER = WooCommerceProvider()
