"""GitHub webhooks.

Signature: ``X-Hub-Signature-256: sha256=<hex HMAC-SHA256(secret, raw body)>``; the secret
is used as UTF-8. GitHub signs no timestamp, so there is no staleness check. Event ID:
``X-GitHub-Delivery`` (stable across manual redeliveries), scoped by ``X-GitHub-Hook-ID``
because every hook on one event shares the delivery ID. Event type: ``X-GitHub-Event``,
plus ``.{action}`` when the body has one (``issues.opened``). GitHub does not retry
failed deliveries automatically.
"""

from __future__ import annotations

import hashlib
import hmac
from typing import ClassVar, Literal

from ingress.providers.base import (
    RawRequest,
    SignatureError,
    SourceConfig,
    VerifiedWebhook,
    WebhookEvent,
    any_matches,
    content_type,
    hmac_digest,
    parse_json_object,
    require_header,
)


class GitHubConfig(SourceConfig):
    provider: Literal["github"] = "github"


class GitHubProvider:
    name: ClassVar[str] = "github"
    config_model: ClassVar[type[SourceConfig]] = GitHubConfig

    def verify(self, request: RawRequest, config: GitHubConfig, now: float) -> VerifiedWebhook:
        header = require_header(request, "X-Hub-Signature-256")
        scheme, _, hex_signature = header.partition("=")
        if scheme != "sha256" or not hex_signature:
            raise SignatureError("malformed_header")
        received = hex_signature.lower().encode()
        expected = [hmac_digest(s, request.body).hex().encode() for s in config.secret_values()]
        if not any_matches(expected, [received]):
            raise SignatureError("bad_signature")
        delivery = require_header(request, "X-GitHub-Delivery")
        hook_id = request.headers.get("X-GitHub-Hook-ID")
        event_id = f"{hook_id}:{delivery}" if hook_id else delivery
        return VerifiedWebhook(
            source=config.name,
            provider=self.name,
            content_type=content_type(request),
            events=(WebhookEvent(event_id, _event_type(request), request.body),),
        )

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]:
        digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
        return {
            "X-Hub-Signature-256": f"sha256={digest}",
            "X-GitHub-Event": extra.get("event", "ping"),
            "X-GitHub-Delivery": extra.get("delivery", "00000000-0000-0000-0000-000000000000"),
            "Content-Type": "application/json",
        }


def _event_type(request: RawRequest) -> str:
    event = request.headers.get("X-GitHub-Event", "unknown")
    parsed = parse_json_object(request.body)
    action = parsed.get("action") if parsed else None
    return f"{event}.{action}" if isinstance(action, str) else event


PROVIDER = GitHubProvider()
