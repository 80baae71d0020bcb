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

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal, Protocol

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

#: The event type of a verified event whose type cannot be read.
UNKNOWN_TYPE = "unknown"

Encoding = Literal["hex", "base64"]


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
    """What arrived, before any parsing. ``headers`` must be case-insensitive.

    ``url_source`` is the full request URL, or a function returning it: building the URL
    costs more than verifying most signatures, and only providers that sign the URL
    (HubSpot without a ``public_url``) read :attr:`url`.
    """

    method: str
    url_source: str | Callable[[], str]
    headers: Mapping[str, str]
    body: bytes

    @property
    def url(self) -> str:
        source = self.url_source
        return source if isinstance(source, str) else source()


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

    # hide_input_in_errors: a validation error must not echo a secret into a log.
    model_config = ConfigDict(frozen=True, extra="forbid", hide_input_in_errors=True)

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


def require_header(request: RawRequest, name: str, *alternatives: str) -> str:
    """The first of the named headers that is present and not blank, stripped."""
    value = optional_header(request, name, *alternatives)
    if value is None:
        raise SignatureError("missing_header")
    return value


def optional_header(request: RawRequest, *names: str) -> str | None:
    for name in names:
        value = request.headers.get(name)
        if value is not None and value.strip():
            return value.strip()
    return None


def parse_timestamp(text: str) -> int:
    """A signed integer timestamp header. Only ASCII digits: ``int()`` alone would also take
    ``"+1"``, ``"1_0"`` or other scripts' digits, which no provider sends."""
    if not (text.isascii() and text.isdigit()) or len(text) > 16:
        raise SignatureError("malformed_header")
    return int(text)


def b64decode_lenient(text: str) -> bytes | None:
    """Standard base64 with optional padding, or None when ``text`` is not base64."""
    try:
        return base64.b64decode(text + "=" * (-len(text) % 4), validate=True)
    except (binascii.Error, ValueError):  # ValueError: non-ASCII text
        return None


_HEX = re.compile(r"(?:[0-9a-fA-F]{2})+")


def read_signature(text: str, encoding: Encoding, size: int) -> bytes | None:
    """A received signature as raw digest bytes, or None unless it decodes to exactly
    ``size`` bytes. Comparing bytes makes hex case and base64 padding moot."""
    if encoding == "hex":
        raw = bytes.fromhex(text) if _HEX.fullmatch(text) else None
    else:
        raw = b64decode_lenient(text)
    return raw if raw is not None and len(raw) == size else None


def decode_signature(text: str, encoding: Encoding, size: int) -> bytes:
    """:func:`read_signature` for a header of one signature: ``malformed_header`` if unread."""
    raw = read_signature(text, encoding, size)
    if raw is None:
        raise SignatureError("malformed_header")
    return raw


def encode_digest(digest: bytes, encoding: Encoding) -> str:
    return digest.hex() if encoding == "hex" else base64.b64encode(digest).decode()


def check_hmac(
    keys: list[bytes],
    message: bytes,
    received: list[str],
    encoding: Encoding,
    algorithm: str = "sha256",
) -> None:
    """Raise unless one received signature is the HMAC of ``message`` under one key.

    A received signature that does not decode to a digest cannot match and is skipped, as
    the providers' own libraries skip it (they compare every entry): one stray entry never
    rejects a valid signature beside it. ``malformed_header`` only when signatures were
    received and not one decodes; an empty ``received`` list (a header naming only schemes
    we do not check) is ``bad_signature``.
    """
    size = hashlib.new(algorithm).digest_size
    decoded = [raw for text in received if (raw := read_signature(text, encoding, size))]
    if received and not decoded:
        raise SignatureError("malformed_header")
    expected = [hmac_digest(key, message, algorithm) for key in keys]
    if not any_matches(expected, decoded):
        raise SignatureError("bad_signature")


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


def text_field(value: Any) -> str | None:
    """A JSON value usable in an ID or type: a non-empty string, or an integer as text."""
    if isinstance(value, str) and value:
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def make_event(body: bytes, event_id: str | None, event_type: str | None) -> WebhookEvent:
    """An event, falling back to the body fingerprint and ``unknown`` for what is missing."""
    return WebhookEvent(event_id or body_fingerprint(body), event_type or UNKNOWN_TYPE, body)


def accept(
    request: RawRequest, config: SourceConfig, provider: str, events: Iterable[WebhookEvent]
) -> VerifiedWebhook:
    """The verified result; called by ``verify`` once every check has passed."""
    return VerifiedWebhook(config.name, provider, content_type(request), tuple(events))
