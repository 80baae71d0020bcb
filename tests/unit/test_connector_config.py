"""Connector configuration: TOML, the destination union on ``type``, secrets, registry."""

from __future__ import annotations

import pkgutil
from pathlib import Path

import pytest
from pydantic import SecretStr

import connectors.destinations
from connectors.config import load_connectors, parse_connectors
from connectors.destinations import REGISTRY
from connectors.destinations.http_upsert import HttpUpsertConfig
from connectors.errors import ConfigError
from launcher.demo_config import demo_secrets
from tests.conftest import ROOT

SECRETS = {"crm_token": SecretStr("s3cr3t-value")}


def document(**destination: object) -> dict[str, object]:
    table = {"type": "http_upsert", "base_url": "https://crm.example", **destination}
    return {"connectors": {"crm": {"families": ["customer"], "destination": table}}}


def test_every_destination_module_is_registered() -> None:
    modules = {
        m.name for m in pkgutil.iter_modules(connectors.destinations.__path__) if m.name != "base"
    }
    assert modules == set(REGISTRY)
    for name, spec in REGISTRY.items():
        assert spec.name == name
        assert spec.config_model.model_fields["type"].default == name


def test_the_destination_table_is_validated_by_its_types_model() -> None:
    [config] = parse_connectors(document(token="secret:crm_token"), SECRETS).values()
    assert isinstance(config.destination, HttpUpsertConfig)
    assert config.destination.token is not None
    assert config.destination.token.get_secret_value() == "s3cr3t-value"
    assert "s3cr3t" not in repr(config)
    assert config.consumer_group("hookline") == "hookline.connector.crm"
    assert config.bucket() == "connector.crm"


def test_defaults_match_the_documented_runtime() -> None:
    [config] = parse_connectors(document(), {}).values()
    assert config.retry.delays_seconds == (1, 4, 16, 64)
    assert config.retry.max_attempts == 5
    assert (config.breaker.failure_threshold, config.breaker.window_seconds) == (5, 600)
    assert config.breaker.cooldown_seconds == 300
    assert config.conflict.policy == "last_write_wins"


def test_an_unknown_type_is_refused_with_the_known_ones() -> None:
    with pytest.raises(ConfigError, match=r"unknown destination type 'nope'.*http_upsert"):
        parse_connectors(document(type="nope"), {})


def test_a_missing_secret_is_named_and_an_invalid_value_is_not_echoed() -> None:
    with pytest.raises(ConfigError, match="secret 'crm_token' is not set"):
        parse_connectors(document(token="secret:crm_token"), {})
    with pytest.raises(ConfigError) as caught:
        parse_connectors(document(base_url="ftp://s3cr3t-value"), SECRETS)
    assert "s3cr3t" not in str(caught.value)
    assert "base_url" in str(caught.value)


def test_unknown_families_and_fields_are_refused() -> None:
    doc = document()
    doc["connectors"]["crm"]["families"] = ["invoice"]  # type: ignore[index]
    with pytest.raises(ConfigError, match="unknown families"):
        parse_connectors(doc, {})
    with pytest.raises(ConfigError, match="Extra inputs"):
        parse_connectors(document(colour="blue"), {})


@pytest.mark.parametrize(
    "path", [Path("config/connectors.toml"), Path("launcher/demo_config/connectors.toml")]
)
def test_the_shipped_connectors_files_are_valid(path: Path) -> None:
    secrets = {name: SecretStr("x") for name in ("crm_token", "demo_api_token")}
    secrets |= {name: SecretStr(value) for name, value in demo_secrets().items()}
    assert load_connectors(ROOT / path, secrets)
