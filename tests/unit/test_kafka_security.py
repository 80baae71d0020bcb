"""Every Kafka client takes the same security settings: the confluent-kafka config builders
(producers, consumers, admin) and faust's aiokafka transport. Secrets stay out of reprs."""

from __future__ import annotations

import ssl
from collections.abc import Callable
from pathlib import Path
from typing import Any

import faust
import pytest
from pydantic import SecretStr, ValidationError

from hookline.kafka_clients import admin_config, consumer_config, producer_config
from hookline.settings import KafkaSettings, Settings
from processors.kafka_security import broker_credentials
from tests.conftest import DATA, ROOT

TLS = DATA / "tls"
PASSWORD = "s3cret-sasl-password"
PYTHON_FOLDERS = ("hookline", "ingress", "processors", "connectors", "launcher", "bench", "tests")

BUILDERS: dict[str, Callable[[KafkaSettings], dict[str, Any]]] = {
    "producer": lambda kafka: producer_config(kafka, "test"),
    "consumer": lambda kafka: consumer_config(kafka, "group", "test"),
    "admin": admin_config,
}


def secured(**overrides: Any) -> KafkaSettings:
    fields: dict[str, Any] = {
        "bootstrap_servers": "kafka.example.com:9096",
        "security_protocol": "SASL_SSL",
        "sasl_mechanism": "SCRAM-SHA-512",
        "sasl_username": "hookline",
        "sasl_password": SecretStr(PASSWORD),
        "ssl_ca_file": TLS / "client.pem",
        "ssl_cert_file": TLS / "client.pem",
        "ssl_key_file": TLS / "client-key.pem",
        "ssl_key_password": SecretStr("test-key-password"),
    }
    return KafkaSettings.model_validate(fields | overrides)


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_every_confluent_config_carries_the_security_settings(builder: str) -> None:
    config = BUILDERS[builder](secured())
    assert config["bootstrap.servers"] == "kafka.example.com:9096"
    assert config["security.protocol"] == "SASL_SSL"
    assert config["sasl.mechanism"] == "SCRAM-SHA-512"
    assert config["sasl.username"] == "hookline"
    assert config["sasl.password"] == PASSWORD
    assert config["ssl.ca.location"] == str(TLS / "client.pem")
    assert config["ssl.certificate.location"] == str(TLS / "client.pem")
    assert config["ssl.key.location"] == str(TLS / "client-key.pem")
    assert config["ssl.key.password"] == "test-key-password"


@pytest.mark.parametrize("builder", sorted(BUILDERS))
def test_plaintext_configs_carry_no_credentials(builder: str) -> None:
    config = BUILDERS[builder](KafkaSettings())
    assert config["security.protocol"] == "PLAINTEXT"
    assert not any(key.startswith(("sasl.", "ssl.")) for key in config)


def test_faust_gets_sasl_credentials_over_tls() -> None:
    credentials = broker_credentials(secured())
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_SSL"
    assert credentials.mechanism.value == "SCRAM-SHA-512"
    assert (credentials.username, credentials.password) == ("hookline", PASSWORD)
    assert isinstance(credentials.ssl_context, ssl.SSLContext)
    assert credentials.ssl_context.verify_mode == ssl.CERT_REQUIRED
    assert PASSWORD not in repr(credentials)


def test_faust_gets_sasl_credentials_without_tls() -> None:
    credentials = broker_credentials(secured(security_protocol="SASL_PLAINTEXT"))
    assert isinstance(credentials, faust.SASLCredentials)
    assert credentials.protocol.value == "SASL_PLAINTEXT"
    assert credentials.ssl_context is None


def test_faust_gets_tls_credentials_for_ssl() -> None:
    credentials = broker_credentials(secured(security_protocol="SSL"))
    assert isinstance(credentials, faust.SSLCredentials)
    assert credentials.context.verify_mode == ssl.CERT_REQUIRED


def test_faust_gets_no_credentials_for_plaintext() -> None:
    assert broker_credentials(KafkaSettings()) is None


def test_secrets_never_show_in_a_repr() -> None:
    text = repr(Settings(kafka=secured())) + str(secured())
    assert PASSWORD not in text
    assert "test-key-password" not in text


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"sasl_username": ""}, "needs sasl_username"),
        ({"ssl_key_file": None}, "go together"),
        ({"replication_factor": 1, "min_insync_replicas": 2}, "cannot exceed"),
    ],
)
def test_incomplete_security_settings_are_rejected(overrides: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        secured(**overrides)


def test_no_confluent_config_is_built_outside_the_builders() -> None:
    """A client configured by hand would miss the security settings."""
    offenders = [
        str(path.relative_to(ROOT))
        for folder in PYTHON_FOLDERS
        for path in (ROOT / folder).rglob("*.py")
        if '"bootstrap.servers"' in path.read_text()
        and path != ROOT / "hookline" / "kafka_clients.py"
        and path != Path(__file__)
    ]
    assert offenders == []
