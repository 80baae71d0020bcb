"""What the ingress checks before it serves: configurations that would otherwise answer 503
to every request (or to every large one) forever, while providers retry for days.

- every source's body limit plus :data:`~hookline.kafka_clients.MESSAGE_HEADROOM_BYTES`
  fits in ``kafka.max_message_bytes``: a body the ingress admits is a record Kafka takes;
- the brokers accept the credentials (a wrong password does not become right by waiting);
- the raw topic, when it exists, takes records of ``kafka.max_message_bytes``
  (``hookline setup`` raises a lower ``max.message.bytes``).

Brokers that do not answer are not an error here: the ingress starts, answers 503 until
they are back, and its ``/readyz`` says so. A failed check raises :class:`StartupError`,
whose message names what to change and never a secret.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import KafkaException

from hookline.kafka_clients import (
    MESSAGE_HEADROOM_BYTES,
    KafkaAuthenticationError,
    connect_admin,
    message_limits,
)
from hookline.settings import Settings
from hookline.topics import Topics
from ingress.providers.base import SourceConfig

#: How long start-up waits for a broker to answer before starting without the Kafka checks.
CONNECT_TIMEOUT_SECONDS = 15.0


class StartupError(Exception):
    """The ingress cannot serve with this configuration: one line for the operator."""


def check_startup(
    settings: Settings,
    sources: Mapping[str, SourceConfig],
    timeout: float = CONNECT_TIMEOUT_SECONDS,
) -> None:
    """Raise :class:`StartupError` when a check above fails."""
    check_body_limits(settings, sources)
    try:
        admin, metadata = connect_admin(settings.kafka, timeout)
    except KafkaAuthenticationError as exc:
        raise StartupError(str(exc)) from None
    except KafkaException:
        return  # unreachable: served as 503 until the brokers are back
    raw = Topics(settings.kafka.topic_prefix).raw_webhooks
    if raw not in metadata.topics:
        return
    limit = message_limits(admin, [raw], timeout)[raw]
    if limit < settings.kafka.max_message_bytes:
        raise StartupError(
            f"topic {raw} takes records up to {limit} bytes (max.message.bytes), less than "
            f"kafka.max_message_bytes ({settings.kafka.max_message_bytes}): run `hookline "
            "setup` to raise it, or lower max_message_bytes and the sources' limits"
        )


def check_body_limits(settings: Settings, sources: Mapping[str, SourceConfig]) -> None:
    """Every source's body limit plus the headroom fits in one Kafka record."""
    ceiling = settings.kafka.max_message_bytes - MESSAGE_HEADROOM_BYTES
    default = settings.ingress.default_max_body_bytes
    over = {
        name: limit
        for name, source in sources.items()
        if (limit := source.max_body_bytes or default) > ceiling
    }
    if over:
        listed = ", ".join(f"{name} ({limit})" for name, limit in sorted(over.items()))
        raise StartupError(
            f"sources admit bodies larger than Kafka records can hold: {listed} max_body_bytes "
            f"> {ceiling} (kafka.max_message_bytes {settings.kafka.max_message_bytes} minus "
            f"{MESSAGE_HEADROOM_BYTES} for key, headers and the normalised event); raise "
            "HOOKLINE_KAFKA__MAX_MESSAGE_BYTES or lower the limit"
        )
