"""Where a dead-letter topic's records are replayed to, by its name alone."""

from __future__ import annotations

import pytest

from hookline.replay import replay_target
from hookline.topics import Topics

TOPICS = Topics("acme")


def test_processors_dead_letters_go_back_to_the_raw_topic() -> None:
    target = replay_target(TOPICS, "acme.raw.webhooks.dlq")
    assert (target.topic, target.retry) == ("acme.raw.webhooks", False)


def test_a_connector_dead_letter_goes_to_that_connector_retry_topic() -> None:
    target = replay_target(TOPICS, "acme.connector.crm-eu.dlq")
    assert (target.topic, target.retry) == ("acme.connector.crm-eu.retry", True)


@pytest.mark.parametrize(
    "topic",
    [
        "acme.events.customer",
        "acme.raw.webhooks",
        "other.raw.webhooks.dlq",
        "acme.connector.crm.retry",
        "acme.connector..dlq",
        "acme.connector.a.b.dlq",
    ],
)
def test_any_other_topic_is_refused(topic: str) -> None:
    with pytest.raises(ValueError, match="not a dead-letter topic"):
        replay_target(TOPICS, topic)
