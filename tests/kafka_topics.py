"""Deleting the topics a test or benchmark made (no pytest needed here).

Left behind, they pile up on the development broker: with hundreds of them, a broker
killed with SIGKILL spends minutes recovering every partition's log before it answers.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from confluent_kafka.admin import AdminClient

from hookline.kafka_clients import admin_config
from hookline.settings import KafkaSettings


def delete_topics_with_prefix(kafka: KafkaSettings, prefix: str) -> None:
    """Delete ``{prefix}.*`` (ours) and ``{prefix}-*`` (faust's: the dedupe changelog, the
    assignor's topic); best effort, the broker may be down."""
    admin = AdminClient(admin_config(kafka))
    try:
        topics = admin.list_topics(timeout=5).topics
        names = [t for t in topics if t.startswith((prefix + ".", prefix + "-"))]
        if names:
            for future in admin.delete_topics(names, operation_timeout=10).values():
                future.result()
    except Exception:  # noqa: S110 - cleanup is best effort; the broker may be down
        pass


@contextmanager
def topics_deleted_afterwards(kafka: KafkaSettings, prefix: str) -> Iterator[None]:
    """Run the block, then delete the prefix's topics, whatever happened in it."""
    try:
        yield
    finally:
        delete_topics_with_prefix(kafka, prefix)
