"""The Kafka security settings in faust's terms (its aiokafka transport): the one place
they are mapped for the processors, as ``hookline.kafka_clients`` maps them for
confluent-kafka.

============================  ============================================================
``security_protocol``         faust ``broker_credentials``
============================  ============================================================
``PLAINTEXT``                 none
``SSL``                       :class:`faust.SSLCredentials` (the TLS context below)
``SASL_PLAINTEXT``            :class:`faust.SASLCredentials` (user, password, mechanism)
``SASL_SSL``                  :class:`faust.SASLCredentials` with the TLS context
============================  ============================================================

The TLS context verifies the brokers' certificates and host names against
``ssl_ca_file`` (the system's trust store when unset) and presents ``ssl_cert_file`` /
``ssl_key_file`` when set. faust's credentials print the user name only, never the
password.
"""

from __future__ import annotations

import ssl

import faust
from faust.types.auth import CredentialsT

from hookline.settings import KafkaSettings


def broker_credentials(settings: KafkaSettings) -> CredentialsT | None:
    """faust's ``broker_credentials`` for these settings; ``None`` for PLAINTEXT."""
    context = tls_context(settings) if settings.uses_ssl else None
    if settings.uses_sasl:
        return faust.SASLCredentials(
            username=settings.sasl_username,
            password=settings.sasl_password.get_secret_value(),
            mechanism=settings.sasl_mechanism,
            ssl_context=context,  # given: the protocol is SASL_SSL
        )
    if context is not None:
        return faust.SSLCredentials(context)
    return None


def tls_context(settings: KafkaSettings) -> ssl.SSLContext:
    """Verifies the brokers (CA file or system store, host name checked); presents the
    client certificate when one is configured."""
    context = ssl.create_default_context(cafile=settings.ssl_ca_file)
    if settings.ssl_cert_file is not None:
        key_password = settings.ssl_key_password
        context.load_cert_chain(
            settings.ssl_cert_file,
            settings.ssl_key_file,
            key_password.get_secret_value() if key_password is not None else None,
        )
    return context
