"""The reconciliation's config and comparison, without I/O."""

from __future__ import annotations

import tomllib

import pytest
from pydantic import SecretStr

from hookline.config_files import ConfigFileError
from pollers.reconcile.compare import compare
from pollers.reconcile.config import parse_reconcile
from pollers.reconcile.systems import Seen, customer_fields
from tests.conftest import ROOT

SECRETS = {"hubspot_token": SecretStr("t1"), "shopify_admin_token": SecretStr("t2")}


def test_the_packaged_pollers_file_declares_three_pairs() -> None:
    document = tomllib.loads((ROOT / "config" / "pollers.toml").read_text())
    config = parse_reconcile(document, SECRETS)
    assert config is not None
    assert {p.label for p in config.pairs.values()} == {
        "warehouse~crm",
        "warehouse~shop",
        "crm~shop",
    }


@pytest.mark.parametrize(
    ("pair", "problem"),
    [
        ({"left": "w", "right": "nowhere"}, "unknown systems"),
        ({"left": "w", "right": "w2", "truth": "w"}, "go together"),
        ({"left": "w", "right": "w2", "truth": "x", "repair_connector": "c"}, "left or right"),
    ],
)
def test_a_pair_that_cannot_work_is_refused(pair: dict[str, str], problem: str) -> None:
    systems = {"w": {"type": "warehouse"}, "w2": {"type": "warehouse"}}
    with pytest.raises(ConfigFileError, match=problem):
        parse_reconcile({"reconcile": {"systems": systems, "pairs": {"p": pair}}}, {})


def test_compare_names_missing_sides_and_differing_fields_only() -> None:
    def seen(key: str, email: str, name: str) -> Seen:
        return Seen(key, key, customer_fields(email, None, None, name))

    left = {"a": seen("a", "A@x.io ", "Ann Lee"), "b": seen("b", "b@x.io", "Bo"),
            "c": seen("c", "c@x.io", "Cy")}  # fmt: skip
    right = {"a": seen("a", "a@x.io", "Ann Lee"), "c": seen("c", "c@x.io", "Cyd"),
             "d": seen("d", "d@x.io", "Di")}  # fmt: skip
    found = [(m.key, m.kind, m.fields) for m in compare(left, right)]
    assert found == [
        ("b", "missing_right", ()),
        ("c", "fields", ("first_name",)),
        ("d", "missing_left", ()),
    ]
