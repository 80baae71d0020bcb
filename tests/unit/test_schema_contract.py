"""The schemas package is the contract: self-contained, in step with the topics, and the
normalisers' output validates against the exported JSON Schemas."""

from __future__ import annotations

import ast
import json
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from hookline.topics import EVENT_FAMILIES
from processors.normalisers import normalise
from schemas.events import FAMILIES, CloudEvent, canonical_event_id
from schemas.export import SCHEMA_DIR
from tests.conftest import ROOT
from tests.unit.test_normalise_base import raw_event, sample

OURS = ("hookline", "ingress", "processors", "connectors")
SAMPLES = [
    ("stripe", "customer.created", "stripe", "stripe-java_customer_created.json"),
    ("stripe", "plan.created", "stripe", "openapi-fixtures3_resources.event.EXTRACT.json"),
    ("shopify", "orders/paid", "shopify", "shopify-app-js_rest_2025-10_order.EXTRACT.json"),
    (
        "shopify",
        "products/update",
        "shopify",
        "shopify-dev_delivery-structure_products-update.json",
    ),
    ("woocommerce", "order.updated", "woocommerce", "order-retrieve-v3.json"),
    ("telegram", "edited_message", "telegram", "edited_message.json"),
    ("telegram", "callback_query", "telegram", "callback_query.json"),
    ("github", "issues.opened", "github", "issues_opened.payload.json"),
    ("svix", "contact.created", "standard-webhooks", "spec_contact_created_full.json"),
]


def imports_of(source: str) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            names |= {alias.name for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


def test_schemas_imports_nothing_of_ours() -> None:
    offenders = {
        str(path.relative_to(ROOT)): sorted(found)
        for path in (ROOT / "schemas").rglob("*.py")
        if (found := {n for n in imports_of(path.read_text()) if n.split(".")[0] in OURS})
    }
    assert offenders == {}


def test_topic_families_are_the_schema_families() -> None:
    assert tuple(FAMILIES) == EVENT_FAMILIES
    for family, model in FAMILIES.items():
        assert model.model_fields["kind"].default == family


def test_event_ids_never_change_across_releases() -> None:
    # Consumers dedupe on these ids: the namespace and the recipe are fixed forever.
    assert canonical_event_id("shop-eu", "evt_1", "order:shopify:1") == (
        "98e6bf5a-bea0-5694-85e2-44df81bf99c7"
    )


def schema(name: str) -> Draft202012Validator:
    return Draft202012Validator(json.loads((SCHEMA_DIR / name).read_text(encoding="utf-8")))


def sample_events() -> list[CloudEvent]:
    return [
        event
        for provider, kind, folder, name in SAMPLES
        for event in normalise(raw_event(provider, kind, sample(folder, name)))
    ]


@pytest.mark.parametrize("event", sample_events(), ids=lambda e: f"{e.provider}-{e.family}")
def test_normalised_events_validate_against_the_exported_schemas(event: CloudEvent) -> None:
    document: dict[str, Any] = json.loads(event.model_dump_json())
    schema("cloudevent.json").validate(document)
    schema(f"{event.family}.json").validate(document)
    assert CloudEvent.model_validate_json(event.model_dump_json()) == event


def test_a_family_schema_rejects_other_families_and_unknown_fields() -> None:
    order, customer = normalise(
        raw_event(
            "shopify",
            "orders/paid",
            sample("shopify", "shopify-app-js_rest_2025-10_order.EXTRACT.json"),
        )
    )
    customer_doc = json.loads(customer.model_dump_json())
    assert not schema("order.json").is_valid(customer_doc)
    assert not schema("cloudevent.json").is_valid(customer_doc | {"extra": 1})
    assert schema("order.json").is_valid(json.loads(order.model_dump_json()))
