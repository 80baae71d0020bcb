"""One secrets syntax: sources and connectors name ``secret:<name>``, read from the settings
root (``HOOKLINE_SECRETS__<NAME>``, environment or ``.env``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from connectors.config import parse_connectors
from connectors.errors import ConfigError
from hookline.settings import Settings
from ingress.sources import SourcesConfigError, parse_sources

VALUE = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"


def sources(secret: str) -> dict[str, object]:
    return {"sources": {"gh": {"provider": "github", "secrets": [secret]}}}


def connectors(token: str) -> dict[str, object]:
    destination = {"type": "http_upsert", "base_url": "https://crm.example", "token": token}
    return {"connectors": {"crm": {"families": ["customer"], "destination": destination}}}


def test_sources_and_connectors_read_one_secret_from_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("HOOKLINE_SECRETS__SHARED_TOKEN", VALUE)
    settings = Settings()
    [source] = parse_sources(sources("secret:shared_token"), settings.secrets).values()
    [connector] = parse_connectors(connectors("secret:shared_token"), settings.secrets).values()
    assert source.secrets[0].get_secret_value() == VALUE
    assert connector.destination.token is not None
    assert connector.destination.token.get_secret_value() == VALUE
    assert VALUE not in repr(settings)


def test_secrets_are_read_from_a_dot_env_file(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / ".env").write_text(f"HOOKLINE_SECRETS__GITHUB_WEBHOOK_SECRET={VALUE}\n")
    settings = Settings()
    [source] = parse_sources(sources("secret:github_webhook_secret"), settings.secrets).values()
    assert source.secrets[0].get_secret_value() == VALUE


def test_a_missing_secret_is_named_with_its_variable_never_a_value() -> None:
    with pytest.raises(SourcesConfigError) as caught:
        parse_sources(sources("secret:stripe_webhook_secret"), {})
    assert "'stripe_webhook_secret'" in str(caught.value)
    assert "HOOKLINE_SECRETS__STRIPE_WEBHOOK_SECRET" in str(caught.value)
    with pytest.raises(ConfigError, match="HOOKLINE_SECRETS__CRM_TOKEN"):
        parse_connectors(connectors("secret:crm_token"), {})


def test_the_old_env_reference_is_refused_with_the_new_syntax(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("GITHUB_WEBHOOK_SECRET", VALUE)
    with pytest.raises(SourcesConfigError, match=r"secret:<name>") as caught:
        parse_sources(sources("env:GITHUB_WEBHOOK_SECRET"), {})
    assert VALUE not in str(caught.value)
