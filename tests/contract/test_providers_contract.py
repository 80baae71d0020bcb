"""The same scenarios against every registered provider.

Each provider's ``sign`` twin produces the headers; ``verify`` must accept them, and must
answer every tampered, unsigned, wrongly signed, malformed or out-of-time request with a
``SignatureError`` of the right reason, never another exception. A provider added to the
registry without a case below fails ``test_every_registered_provider_has_a_contract_case``.
"""

from __future__ import annotations

import base64
import contextlib
import importlib
import pkgutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import pytest
from multidict import CIMultiDict

import ingress.providers
from ingress.providers import REGISTRY
from ingress.providers.base import (
    RawRequest,
    SignatureError,
    SourceConfig,
    VerifiedWebhook,
)

NOW = 1_700_000_000.0
URL = "https://hooks.example.com/webhooks/contract"
BODY = b'{"id":"evt_1","type":"thing.happened","update_id":7,"message":{"text":"hi"}}'


@dataclass(frozen=True)
class Case:
    """What the contract needs to know about one provider."""

    #: Headers without which the request is ``missing_header`` (each one on its own).
    required_headers: tuple[str, ...]
    #: ``(header, value)`` pairs that make the request ``malformed_header``.
    malformed: tuple[tuple[str, str], ...]
    #: Two valid secrets (old, new) and one that is valid but not configured.
    secrets: tuple[str, str, str] = ("old-secret_1", "new-secret_2", "wrong-secret_3")
    config: Mapping[str, Any] = field(default_factory=dict)
    sign_extra: Mapping[str, str] = field(default_factory=dict)
    signs_body: bool = True
    signs_timestamp: bool = False
    #: Providers that accept several signatures in one header: ``(header, beside)``, where
    #: ``beside`` puts unreadable entries around the signed value. Such entries cannot
    #: match and are skipped, as the providers' own libraries skip them.
    signature_list: tuple[str, Callable[[str], str]] | None = None


def _whsec(seed: bytes) -> str:
    return "whsec_" + base64.b64encode(seed * 8).decode()


STANDARD_SECRETS = (_whsec(b"old"), _whsec(b"new"), _whsec(b"bad"))
GENERIC = {
    "signature_header": "X-Signature",
    "signature_prefix": "sha256=",
    "timestamp_header": "X-Signature-Timestamp",
    "signed_payload": "{timestamp}.{body}",
}


def _standard(family: str) -> Case:
    return Case(
        required_headers=(f"{family}-id", f"{family}-timestamp", f"{family}-signature"),
        malformed=(
            (f"{family}-signature", "v1"),
            (f"{family}-signature", "v1,not*base64"),
            (f"{family}-signature", "v1,AAAA"),
            (f"{family}-timestamp", "soon"),
            (f"{family}-timestamp", "-5"),
        ),
        secrets=STANDARD_SECRETS,
        signs_timestamp=True,
        signature_list=(f"{family}-signature", lambda valid: f"v1,Zm9v v2,abc {valid} v1 v1,"),
    )


def _stripe_beside(valid: str) -> str:
    timestamp, _, signatures = valid.partition(",")
    return f"{timestamp},v1=xyz,stray,{signatures},v1={'0' * 63}"


CASES: dict[str, Case] = {
    "github": Case(
        required_headers=("X-Hub-Signature-256",),
        malformed=(("X-Hub-Signature-256", "sha1=abcd"), ("X-Hub-Signature-256", "sha256=")),
    ),
    "stripe": Case(
        required_headers=("Stripe-Signature",),
        malformed=(
            ("Stripe-Signature", "garbage"),
            ("Stripe-Signature", "t=soon,v1=" + "0" * 64),
            ("Stripe-Signature", "v1=" + "0" * 64),
            ("Stripe-Signature", "t=1700000000,t=1700000001,v1=" + "0" * 64),
            ("Stripe-Signature", "t=1700000000,v1=xyz"),
        ),
        signs_timestamp=True,
        signature_list=("Stripe-Signature", _stripe_beside),
    ),
    "shopify": Case(
        required_headers=("X-Shopify-Hmac-Sha256",),
        malformed=(("X-Shopify-Hmac-Sha256", "not base64!"), ("X-Shopify-Hmac-Sha256", "AAAA")),
    ),
    "telegram": Case(
        required_headers=("X-Telegram-Bot-Api-Secret-Token",),
        malformed=(
            ("X-Telegram-Bot-Api-Secret-Token", "bad token!"),
            ("X-Telegram-Bot-Api-Secret-Token", "x" * 257),
        ),
        signs_body=False,
    ),
    "standard_webhooks": _standard("webhook"),
    "svix": _standard("svix"),
    "hubspot": Case(
        required_headers=("X-HubSpot-Signature-v3", "X-HubSpot-Request-Timestamp"),
        malformed=(
            ("X-HubSpot-Signature-v3", "***"),
            ("X-HubSpot-Request-Timestamp", "yesterday"),
        ),
        sign_extra={"url": URL},
        signs_timestamp=True,
    ),
    "woocommerce": Case(
        required_headers=("X-WC-Webhook-Signature",),
        malformed=(("X-WC-Webhook-Signature", "***"), ("X-WC-Webhook-Signature", "c2hvcnQ=")),
    ),
    "generic_hmac": Case(
        required_headers=("X-Signature", "X-Signature-Timestamp"),
        malformed=(
            ("X-Signature", "md5=abcd"),
            ("X-Signature", "sha256=xyz"),
            ("X-Signature-Timestamp", "1.5"),
        ),
        config=GENERIC,
        sign_extra=GENERIC,
        signs_timestamp=True,
    ),
}

NAMES = sorted(REGISTRY)
BODY_SIGNING = [n for n in NAMES if CASES[n].signs_body]
NOT_BODY_SIGNING = [n for n in NAMES if not CASES[n].signs_body]
TIMESTAMP_SIGNING = [n for n in NAMES if CASES[n].signs_timestamp]
MISSING = [(n, h) for n in NAMES for h in CASES[n].required_headers]
LISTING = [n for n in NAMES if CASES[n].signature_list]
MALFORMED = [(n, h, v) for n in NAMES for h, v in CASES[n].malformed]
GARBAGE = ["", " ", ",", "=", "v1,", "t=", "sha256=", "é", "\x00", "a" * 5000, "1" * 40, "-1"]
ODD_BODIES = [b"", b"not json", b"\xff\xfe\x00", b"[1, 2", b"null", b'"text"', b"[1, {}]"]
ODD_BODIES += [b"[" * 300 + b"]" * 300, b"[123456789012345678901234567890]"]


def config_for(name: str, *secrets: str) -> SourceConfig:
    fields = {"name": "contract", "provider": name, "secrets": list(secrets)}
    return REGISTRY[name].config_model.model_validate({**fields, **CASES[name].config})


def signed(name: str, body: bytes = BODY, secret: str | None = None, at: float = NOW) -> RawRequest:
    case = CASES[name]
    headers = REGISTRY[name].sign(body, secret or case.secrets[0], at, **case.sign_extra)
    return RawRequest("POST", URL, CIMultiDict(headers), body)


def verify(name: str, request: RawRequest, *secrets: str) -> VerifiedWebhook:
    config = config_for(name, *(secrets or CASES[name].secrets[:2]))
    return REGISTRY[name].verify(request, config, NOW)


def with_headers(request: RawRequest, **changes: str | None) -> RawRequest:
    headers = CIMultiDict(request.headers)
    for header, value in changes.items():
        headers.popall(header, None)
        if value is not None:
            headers[header] = value
    return RawRequest(request.method, request.url, headers, request.body)


def rejection(name: str, request: RawRequest, *secrets: str) -> str:
    with pytest.raises(SignatureError) as caught:
        verify(name, request, *secrets)
    return caught.value.reason


# --- the registry ---------------------------------------------------------------------


def test_every_registered_provider_has_a_contract_case() -> None:
    assert set(CASES) == set(REGISTRY)


def test_every_provider_module_is_registered() -> None:
    modules = {m.name for m in pkgutil.iter_modules(ingress.providers.__path__)} - {"base"}
    registered = {type(p).__module__.rpartition(".")[2] for p in REGISTRY.values()}
    assert modules == registered
    for module in modules:
        provider = importlib.import_module(f"ingress.providers.{module}").PROVIDER
        assert REGISTRY[provider.name] is provider


@pytest.mark.parametrize("name", NAMES)
def test_registry_key_is_the_provider_name_and_its_config_tag(name: str) -> None:
    assert REGISTRY[name].name == name
    assert config_for(name, *CASES[name].secrets[:1]).provider == name


# --- round trips and signatures -------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_signed_request_is_verified(name: str) -> None:
    webhook = verify(name, signed(name))
    assert (webhook.source, webhook.provider) == ("contract", name)
    assert webhook.events
    assert all(event.event_id and event.event_type for event in webhook.events)


@pytest.mark.parametrize("name", NAMES)
def test_verified_unparseable_body_is_accepted(name: str) -> None:
    for body in ODD_BODIES:
        webhook = verify(name, signed(name, body))
        assert all(event.event_id and event.event_type for event in webhook.events), body


@pytest.mark.parametrize("name", BODY_SIGNING)
def test_tampered_body_is_rejected(name: str) -> None:
    request = signed(name)
    tampered = RawRequest(request.method, request.url, request.headers, BODY + b" ")
    assert rejection(name, tampered) == "bad_signature"


@pytest.mark.parametrize("name", NOT_BODY_SIGNING)
def test_unsigned_body_is_accepted_with_the_right_secret(name: str) -> None:
    request = signed(name)
    other = RawRequest(request.method, request.url, request.headers, b'{"update_id": 8}')
    assert verify(name, other).events[0].body == b'{"update_id": 8}'


@pytest.mark.parametrize("name", NAMES)
def test_wrong_secret_is_rejected(name: str) -> None:
    wrong = CASES[name].secrets[2]
    assert rejection(name, signed(name, secret=wrong)) == "bad_signature"


@pytest.mark.parametrize("name", NAMES)
def test_rotation_accepts_the_old_and_the_new_secret(name: str) -> None:
    old, new, _ = CASES[name].secrets
    for secret in (old, new):
        assert verify(name, signed(name, secret=secret), old, new).events
        assert verify(name, signed(name, secret=secret), new, old).events
    assert rejection(name, signed(name, secret=old), new) == "bad_signature"


# --- headers --------------------------------------------------------------------------


def _with_unreadable_entries(name: str, request: RawRequest) -> RawRequest:
    header, beside = CASES[name].signature_list or ("", str)
    return with_headers(request, **{header: beside(request.headers[header])})


@pytest.mark.parametrize("name", LISTING)
def test_an_unreadable_entry_beside_a_valid_one_is_accepted(name: str) -> None:
    assert verify(name, _with_unreadable_entries(name, signed(name))).events


@pytest.mark.parametrize("name", LISTING)
def test_an_unreadable_entry_beside_a_wrong_one_is_a_bad_signature(name: str) -> None:
    request = _with_unreadable_entries(name, signed(name, secret=CASES[name].secrets[2]))
    assert rejection(name, request) == "bad_signature"


@pytest.mark.parametrize(("name", "header"), MISSING)
def test_missing_header_is_rejected(name: str, header: str) -> None:
    assert rejection(name, with_headers(signed(name), **{header: None})) == "missing_header"


@pytest.mark.parametrize(("name", "header"), MISSING)
def test_blank_header_counts_as_missing(name: str, header: str) -> None:
    assert rejection(name, with_headers(signed(name), **{header: "  "})) == "missing_header"


@pytest.mark.parametrize(("name", "header", "value"), MALFORMED)
def test_malformed_header_is_rejected(name: str, header: str, value: str) -> None:
    assert rejection(name, with_headers(signed(name), **{header: value})) == "malformed_header"


@pytest.mark.parametrize("name", NAMES)
def test_garbage_in_any_header_is_a_401_reason_never_another_exception(name: str) -> None:
    request = signed(name)
    for header in request.headers:
        for value in GARBAGE:
            # SignatureError only accepts the bounded reasons; anything else fails the test.
            with contextlib.suppress(SignatureError):
                verify(name, with_headers(request, **{header: value}))


@pytest.mark.parametrize("name", NAMES)
def test_request_without_any_header_is_rejected(name: str) -> None:
    bare = RawRequest("POST", URL, CIMultiDict(), BODY)
    assert rejection(name, bare) == "missing_header"


# --- signed timestamps ----------------------------------------------------------------


def _tolerance(name: str) -> int:
    return config_for(name, *CASES[name].secrets[:1]).tolerance_seconds


@pytest.mark.parametrize("name", TIMESTAMP_SIGNING)
def test_stale_timestamp_is_rejected(name: str) -> None:
    request = signed(name, at=NOW - _tolerance(name) - 1)
    assert rejection(name, request) == "stale_timestamp"


@pytest.mark.parametrize("name", TIMESTAMP_SIGNING)
def test_future_timestamp_is_rejected(name: str) -> None:
    request = signed(name, at=NOW + _tolerance(name) + 1)
    assert rejection(name, request) == "future_timestamp"


@pytest.mark.parametrize("name", TIMESTAMP_SIGNING)
def test_timestamp_within_tolerance_is_accepted(name: str) -> None:
    for skew in (-_tolerance(name) + 1, _tolerance(name) - 1):
        assert verify(name, signed(name, at=NOW + skew)).events


@pytest.mark.parametrize("name", TIMESTAMP_SIGNING)
def test_stale_timestamp_with_a_bad_signature_is_a_bad_signature(name: str) -> None:
    request = signed(name, secret=CASES[name].secrets[2], at=NOW - 10 * _tolerance(name))
    assert rejection(name, request) == "bad_signature"
