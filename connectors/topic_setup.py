"""A connector's own topics, created idempotently: its retry topics (the base one and each
tier's) and its dead-letter topic, as :meth:`hookline.topics.Topics.for_connector` declares
them, with as many partitions as its source topics have.

The connectors service runs this for each connector it starts (a deployment may add one
later); ``hookline setup`` runs it for every connector of the connectors file beforehand,
so a first start subscribes to topics that exist."""

from __future__ import annotations

from connectors.config import ConnectorTopicsConfig
from hookline.kafka_clients import connect_admin, ensure_topics
from hookline.logs import get_logger
from hookline.settings import Settings
from hookline.topics import Topics

log = get_logger("hookline.connectors")


def prepare_topics(settings: Settings, config: ConnectorTopicsConfig, topics: Topics) -> list[str]:
    """Create the connector's retry and dead-letter topics that are missing, as many
    partitions as the sources have; the names created."""
    metadata = connect_admin(settings.kafka)[1].topics
    counts = {
        len(metadata[t].partitions) for f in config.families if (t := topics.events(f)) in metadata
    }
    partitions = max(counts, default=settings.kafka.default_partitions)
    created = ensure_topics(settings.kafka, topics.for_connector(config.name, partitions))
    retry = metadata.get(topics.connector_retry(config.name))
    if len(counts) > 1 or (retry is not None and len(retry.partitions) != partitions):
        log.warning(
            "partition counts differ: one entity's changes may reach two instances",
            connector=config.name,
        )
    return created
