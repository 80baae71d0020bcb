"""A canonical event's record never carries U+0000 (schemas.text), whatever the provider
sent: PostgreSQL, where connectors keep states and the warehouse rows, cannot hold it."""

from __future__ import annotations

import orjson
import pytest

from hookline.topics import Topics
from processors.normalisers import FALLBACK, REGISTRY
from processors.normalisers.base import Normaliser
from processors.pipeline import to_output, transform
from tests.fakes.connector_harness import customer_event
from tests.unit.test_normalise_base import raw_event
from tests.unit.test_normalise_registry import READABLE


def test_a_nul_in_an_entity_field_is_written_as_the_replacement_character() -> None:
    event = customer_event("c\x001", 1, first_name="A\x00B", tags=("x\x00",))
    output = to_output(event, Topics("p"), traceparent="00-" + "1" * 32 + "-" + "2" * 16 + "-01")
    assert b"\\u0000" not in output.value
    assert output.key == "customer:cust:c\ufffd1".encode()  # the key reads as the subject
    assert orjson.loads(output.value)["subject"] == "customer:cust:c\ufffd1"
    data = orjson.loads(output.value)["data"]
    assert (data["first_name"], data["tags"]) == ("A\ufffdB", ["x\ufffd"])


@pytest.mark.parametrize(
    ("provider", "normaliser"), [*sorted(REGISTRY.items()), ("acme", FALLBACK)]
)
def test_no_normalisers_output_carries_nul(provider: str, normaliser: Normaliser) -> None:
    body = orjson.loads(READABLE) | {"note": "a\x00b", "name\x00": "n\x00"}
    raw = raw_event(provider, "customer.created", orjson.dumps(body), event_id="e\x001")
    outputs = transform(raw.headers.to_kafka(), raw.body, Topics("p"), normaliser.normalise)
    assert outputs
    for output in outputs:
        assert b"\\u0000" not in output.value
        orjson.loads(output.value)  # still JSON
