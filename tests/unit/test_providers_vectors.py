"""Published signature vectors: each verifies, and ``sign`` reproduces the signature.

Sources: ``tests/data/vectors.json`` (official vectors), ``stripe_derived.json``
(computed with stripe-python; Stripe publishes none) and
``vectors-hubspot-woocommerce.json``. Bodies are the exact bytes of the vectors.
"""

from __future__ import annotations

import json
from typing import Any

import pytest
from multidict import CIMultiDict

from ingress.providers import REGISTRY
from ingress.providers.base import RawRequest, VerifiedWebhook
from tests.conftest import DATA

URL = "https://hooks.example.com/webhooks/vectors"
#: Sections of vectors.json for providers Hookline does not implement (yet).
NOT_IMPLEMENTED = {"slack", "twilio"}


def _load(name: str) -> dict[str, Any]:
    document: dict[str, Any] = json.loads((DATA / name).read_text(encoding="utf-8"))
    return document


OFFICIAL = _load("vectors.json")
STRIPE = _load("stripe_derived.json")["vectors"]
HUBSPOT_WOO = _load("vectors-hubspot-woocommerce.json")["vectors"]
HUBSPOT = [v for v in HUBSPOT_WOO if v["provider"] == "hubspot"]
WOOCOMMERCE = [v for v in HUBSPOT_WOO if v["provider"] == "woocommerce"]


def _ids(vector: dict[str, Any]) -> str:
    return str(vector["id"])


def verify(
    provider: str,
    secret: str,
    headers: dict[str, str],
    body: bytes,
    now: float,
    *,
    method: str = "POST",
    url: str = URL,
) -> VerifiedWebhook:
    fields = {"name": "vectors", "provider": provider, "secrets": [secret]}
    config = REGISTRY[provider].config_model.model_validate(fields)
    request = RawRequest(method, url, CIMultiDict(headers), body)
    return REGISTRY[provider].verify(request, config, now)


def test_every_vector_section_is_a_registered_provider_or_listed_as_not_implemented() -> None:
    sections = {key for key in OFFICIAL if not key.startswith("_")}
    sections |= {v["provider"] for v in HUBSPOT_WOO}
    assert sections - NOT_IMPLEMENTED <= set(REGISTRY)
    assert not NOT_IMPLEMENTED & set(REGISTRY), "a provider now exists: test its vectors"


@pytest.mark.parametrize("vector", OFFICIAL["standard_webhooks"], ids=_ids)
@pytest.mark.parametrize(
    ("provider", "family"), [("standard_webhooks", "webhook"), ("svix", "svix")]
)
def test_standard_webhooks_vector(vector: dict[str, Any], provider: str, family: str) -> None:
    body, now = vector["payload"].encode(), vector["timestamp"]
    headers = REGISTRY[provider].sign(body, vector["secret"], now, msg_id=vector["msg_id"])
    assert headers[f"{family}-signature"] == vector["expected_signature"]
    received = {
        f"{family}-id": vector["msg_id"],
        f"{family}-timestamp": str(now),
        f"{family}-signature": vector["expected_signature"],
    }
    webhook = verify(provider, vector["secret"], received, body, now)
    assert webhook.events[0].event_id == vector["msg_id"]


@pytest.mark.parametrize("vector", OFFICIAL["github"], ids=_ids)
def test_github_vector(vector: dict[str, Any]) -> None:
    body, expected = vector["payload"].encode(), vector["expected_header_X-Hub-Signature-256"]
    headers = REGISTRY["github"].sign(body, vector["secret"], 0)
    assert headers["X-Hub-Signature-256"] == expected
    assert verify("github", vector["secret"], headers, body, 0).events


@pytest.mark.parametrize("vector", OFFICIAL["shopify"], ids=_ids)
def test_shopify_vector(vector: dict[str, Any]) -> None:
    body, expected = vector["payload"].encode(), vector["expected_header_X-Shopify-Hmac-Sha256"]
    assert REGISTRY["shopify"].sign(body, vector["secret"], 0)["X-Shopify-Hmac-Sha256"] == expected
    for header in ("X-Shopify-Hmac-Sha256", "shopify-hmac-sha256"):
        assert verify("shopify", vector["secret"], {header: expected}, body, 0).events


def test_shopify_vector_body_is_the_sample_payload_file() -> None:
    sample = DATA / "payloads" / "shopify" / "shopify-app-js_validate-test_rawBody.json"
    assert sample.read_bytes() == OFFICIAL["shopify"][0]["payload"].encode()


@pytest.mark.parametrize("vector", STRIPE, ids=_ids)
def test_stripe_derived_vector(vector: dict[str, Any]) -> None:
    body, expected = vector["payload"].encode(), vector["expected_header_Stripe-Signature"]
    headers = REGISTRY["stripe"].sign(body, vector["secret"], vector["timestamp"])
    assert headers["Stripe-Signature"] == expected
    webhook = verify(
        "stripe", vector["secret"], {"Stripe-Signature": expected}, body, vector["timestamp"]
    )
    assert webhook.events[0].event_id.startswith("evt_")


def test_stripe_derived_vector_body_is_the_sample_payload_file() -> None:
    sample = DATA / "payloads" / "stripe" / "stripe-java_customer_created.json"
    assert sample.read_bytes() == STRIPE[1]["payload"].encode()


@pytest.mark.parametrize("vector", HUBSPOT, ids=_ids)
def test_hubspot_vector(vector: dict[str, Any]) -> None:
    given = vector["input"]
    version, secret = vector["signature_version"], given["client_secret"]
    method, url = given.get("http_method", "POST"), given.get("http_uri", URL)
    body = given["request_body"].encode()
    now = int(given.get("timestamp", "0")) / 1000
    headers = REGISTRY["hubspot"].sign(body, secret, now, version=version, method=method, url=url)
    name = "X-HubSpot-Signature-v3" if version == "v3" else "X-HubSpot-Signature"
    assert headers[name] == vector["expected"]
    assert verify("hubspot", secret, headers, body, now, method=method, url=url).events


@pytest.mark.parametrize("vector", WOOCOMMERCE, ids=_ids)
def test_woocommerce_vector(vector: dict[str, Any]) -> None:
    body, secret = vector["input"]["payload"].encode(), vector["input"]["secret"]
    headers = REGISTRY["woocommerce"].sign(body, secret, 0)
    assert headers["X-WC-Webhook-Signature"] == vector["expected"]
    assert verify("woocommerce", secret, headers, body, 0).events
