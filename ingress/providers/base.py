"""The provider contract: verify raw bytes, or raise one error.

Errors of the ingress layer::

    IngressError
    ├── SignatureError(reason)  -> 401  (missing/malformed header, bad signature, stale or
    │                                    future timestamp)
    ├── UnknownSource           -> 404
    ├── BodyTooLarge            -> 413
    └── PublishError            -> 503 + Retry-After  (hookline.kafka_clients.PublishError)

A provider module holds a config model (a :class:`SourceConfig` subclass whose ``provider``
field is a ``Literal`` tag) and a ``Provider`` implementation with two functions:
``verify(request, config, now)`` returning a frozen :class:`VerifiedWebhook`, and its twin
``sign(...)``, which tests use for round trips. Only ``verify`` creates ``VerifiedWebhook``
objects, and the publisher accepts nothing else, so unverified bytes cannot reach Kafka.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Protocol

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

#: The reasons a request fails verification. Bounded: they are metric label values.
SIGNATURE_REASONS = (
    "missing_header",
    "malformed_header",
    "bad_signature",
    "stale_timestamp",
    "future_timestamp",
)


class IngressError(Exception):
    """Base of the errors the HTTP layer translates into answers."""


class SignatureError(IngressError):
    """The request is not proven to come from the provider. Answered 401."""

    def __init__(self, reason: str) -> None:
        if reason not in SIGNATURE_REASONS:
            raise ValueError(f"unknown signature failure reason {reason!r}")
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class RawRequest:
    """What arrived, before any parsing. ``headers`` must be case-insensitive."""

    method: str
    url: str
    headers: Mapping[str, str]
    body: bytes


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """One provider event: its stable ID (the dedupe key), its type and its bytes."""

    event_id: str
    event_type: str
    body: bytes


@dataclass(frozen=True, slots=True)
class VerifiedWebhook:
    """A request whose signature checked out. Only a provider's ``verify`` builds one."""

    source: str
    provider: str
    content_type: str
    events: tuple[WebhookEvent, ...]


class SourceConfig(BaseModel):
    """What every source has. Provider modules subclass it with a ``provider`` Literal."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(description="The path segment: POST /webhooks/{name}.")
    provider: str = Field(description="Provider type: a key of ingress.providers.REGISTRY.")
    secrets: tuple[SecretStr, ...] = Field(
        min_length=1,
        description="Accepted secrets; several during a rotation, all tried in constant time.",
    )
    max_body_bytes: int | None = Field(
        None, ge=1, description="Body limit; the ingress default when unset."
    )
    tolerance_seconds: int = Field(
        300, ge=1, description="Accepted clock skew of signed timestamps, where signed."
    )

    def secret_values(self) -> list[bytes]:
        return [s.get_secret_value().encode() for s in self.secrets]


class Provider(Protocol):
    """What a provider module exposes as ``PROVIDER``."""

    name: ClassVar[str]
    config_model: ClassVar[type[SourceConfig]]

    def verify(self, request: RawRequest, config: Any, now: float) -> VerifiedWebhook: ...

    def sign(self, body: bytes, secret: str, now: float, **extra: str) -> dict[str, str]: ...


# --- helpers shared by provider modules -------------------------------------------------


def hmac_digest(key: bytes, message: bytes, algorithm: str = "sha256") -> bytes:
    return hmac.new(key, message, algorithm).digest()


def any_matches(expected: list[bytes], received: list[bytes]) -> bool:
    """Constant-time: true when any received signature equals any expected one.

    Every pair is compared, so timing does not reveal which secret or position matched.
    """
    matched = False
    for want in expected:
        for got in received:
            matched |= hmac.compare_digest(want, got)
    return matched


def require_header(request: RawRequest, name: str) -> str:
    value = request.headers.get(name)
    if value is None or not value.strip():
        raise SignatureError("missing_header")
    return value.strip()


def check_timestamp(timestamp: float, now: float, tolerance: int, *, reject_future: bool) -> None:
    if now - timestamp > tolerance:
        raise SignatureError("stale_timestamp")
    if reject_future and timestamp - now > tolerance:
        raise SignatureError("future_timestamp")


def parse_json_object(body: bytes) -> dict[str, Any] | None:
    """The body as a JSON object, or None: a verified but unparseable body is still
    accepted (the processors dead-letter it with its reason)."""
    try:
        value = orjson.loads(body)
    except orjson.JSONDecodeError:
        return None
    return value if isinstance(value, dict) else None


def body_fingerprint(body: bytes) -> str:
    """A stable stand-in event ID for bodies that carry none: equal bytes, equal ID."""
    return "sha256:" + hashlib.sha256(body).hexdigest()


def content_type(request: RawRequest) -> str:
    return request.headers.get("Content-Type", "application/octet-stream")
