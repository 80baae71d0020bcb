"""Retry tiers: which topic a retry goes to and when it wakes up."""

from __future__ import annotations

from connectors.retry_tiers import placement, wake_header, wake_ms
from hookline.topics import Topics

TOPICS = Topics("p")
NOW = 1_700_000_000_000


def test_a_retry_due_within_the_first_tier_waits_on_the_base_topic_until_due() -> None:
    assert placement(TOPICS, "crm", NOW + 4_900, NOW) == ("p.connector.crm.retry", NOW + 4_900)
    assert placement(TOPICS, "crm", NOW - 1, NOW) == ("p.connector.crm.retry", NOW - 1)


def test_a_later_retry_waits_the_longest_tier_not_longer_than_its_remaining_time() -> None:
    assert placement(TOPICS, "crm", NOW + 5_000, NOW) == ("p.connector.crm.retry.5s", NOW + 5_000)
    due = NOW + 900_000
    assert placement(TOPICS, "crm", due, NOW) == ("p.connector.crm.retry.600s", NOW + 600_000)
    assert placement(TOPICS, "crm", due, NOW + 600_000)[0] == "p.connector.crm.retry.120s"


def test_every_tier_topic_is_declared_for_the_connector() -> None:
    declared = {spec.name for spec in TOPICS.for_connector("crm", 3)}
    assert set(TOPICS.connector_retries("crm")) <= declared
    assert "p.connector.crm.retry.3600s" in declared


def test_a_record_without_a_readable_wake_up_time_wakes_at_once() -> None:
    assert wake_ms([wake_header(NOW)]) == NOW
    assert wake_ms([("hookline.retry.wake.ms", b"soon")]) is None
    assert wake_ms([]) is None
