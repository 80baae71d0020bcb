"""The example sources files in config/ load, and the demo's secrets verify."""

from __future__ import annotations

import tomllib
from pathlib import Path
from typing import Any

import pytest
from multidict import CIMultiDict
from pydantic import SecretStr

from ingress.providers import REGISTRY
from ingress.providers.base import RawRequest
from ingress.sources import parse_sources
from tests.conftest import ROOT

EXAMPLE = ROOT / "config" / "sources.toml"
DEMO = ROOT / "launcher" / "demo_config" / "sources.toml"
#: Valid for every provider: base64 after whsec_, and only Telegram's token characters.
ENV_VALUE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
NOW = 1_700_000_000.0


def document(path: Path) -> dict[str, Any]:
    return tomllib.loads(path.read_text(encoding="utf-8"))


def secrets(path: Path) -> list[str]:
    return [s for table in document(path)["sources"].values() for s in table["secrets"]]


def test_example_sources_parse_with_secrets_from_the_settings_root() -> None:
    values = {s.removeprefix("secret:"): SecretStr(ENV_VALUE) for s in secrets(EXAMPLE)}
    sources = parse_sources(document(EXAMPLE), values)
    assert all(s.secrets[0].get_secret_value() == ENV_VALUE for s in sources.values())


def test_example_sources_hold_no_literal_secret() -> None:
    assert all(s.startswith("secret:") for s in secrets(EXAMPLE))


def test_demo_sources_parse_without_secrets_set() -> None:
    assert not any(s.startswith("secret:") for s in secrets(DEMO))
    assert parse_sources(document(DEMO), {})


@pytest.mark.parametrize("path", [EXAMPLE, DEMO], ids=lambda p: p.name)
def test_example_has_a_source_for_every_provider(path: Path) -> None:
    providers = {table["provider"] for table in document(path)["sources"].values()}
    assert providers == set(REGISTRY)


@pytest.mark.parametrize("name", sorted(document(DEMO)["sources"]))
def test_demo_source_verifies_what_its_provider_signs(name: str) -> None:
    table = document(DEMO)["sources"][name]
    source = parse_sources(document(DEMO), {})[name]
    provider = REGISTRY[source.provider]
    url = f"http://127.0.0.1:8080/webhooks/{name}"
    settings = {k: v for k, v in table.items() if k not in {"provider", "secrets"}}
    body = b'{"id": "evt_demo", "type": "demo.ping"}'
    headers = provider.sign(body, table["secrets"][0], NOW, url=url, **settings)
    request = RawRequest("POST", url, CIMultiDict(headers), body)
    assert provider.verify(request, source, NOW).events
