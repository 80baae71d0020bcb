"""Change detection, staleness and the conflict policies, as one pure function."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.config import ConflictConfig
from connectors.conflicts import AppliedState, Judgement, Verdict, judge

T = datetime(2026, 1, 1, tzinfo=UTC)
LWW = ConflictConfig()
PRIORITY = ConflictConfig(policy="source_priority", source_priority=("shop", "crm"))
REVIEW = ConflictConfig(policy="manual_review")


def applied(source: str = "shop", seconds: float = 0, state_hash: str = "h1") -> AppliedState:
    return AppliedState(state_hash, T + timedelta(seconds=seconds), source)


def at(seconds: float) -> datetime:
    return T + timedelta(seconds=seconds)


def test_a_first_change_is_applied() -> None:
    assert judge(None, "h1", at(0), "shop", REVIEW) == Judgement(Verdict.APPLY)


@pytest.mark.parametrize("config", [LWW, PRIORITY, REVIEW])
def test_an_unchanged_state_is_skipped_whatever_its_source_or_version(
    config: ConflictConfig,
) -> None:
    assert judge(applied(), "h1", at(60), "crm", config).verdict is Verdict.UNCHANGED
    assert judge(applied(), "h1", at(-60), "shop", config).verdict is Verdict.UNCHANGED


@pytest.mark.parametrize("config", [LWW, PRIORITY, REVIEW])
def test_an_older_change_is_stale_never_a_conflict(config: ConflictConfig) -> None:
    assert judge(applied(seconds=10), "h2", at(5), "crm", config) == Judgement(Verdict.STALE)


@pytest.mark.parametrize("config", [LWW, PRIORITY, REVIEW])
def test_a_newer_change_from_the_same_source_is_a_plain_update(config: ConflictConfig) -> None:
    assert judge(applied(), "h2", at(1), "shop", config) == Judgement(Verdict.APPLY)


def test_last_write_wins_applies_a_conflicting_newer_change() -> None:
    assert judge(applied(), "h2", at(1), "crm", LWW) == Judgement(Verdict.APPLY, conflict=True)


def test_source_priority_rejects_a_lower_source_and_applies_a_higher_one() -> None:
    lower = judge(applied("shop"), "h2", at(1), "crm", PRIORITY)
    higher = judge(applied("crm"), "h2", at(1), "shop", PRIORITY)
    unlisted = judge(applied("crm"), "h2", at(1), "other", PRIORITY)
    assert lower == Judgement(Verdict.REJECT, conflict=True)
    assert higher == Judgement(Verdict.APPLY, conflict=True)
    assert unlisted == Judgement(Verdict.REJECT, conflict=True)  # unlisted ranks last


def test_manual_review_holds_a_conflict() -> None:
    assert judge(applied(), "h2", at(1), "crm", REVIEW) == Judgement(Verdict.HOLD, conflict=True)


def test_changes_further_apart_than_the_window_are_not_concurrent() -> None:
    windowed = ConflictConfig(policy="manual_review", window_seconds=300)
    assert judge(applied(), "h2", at(299), "crm", windowed).verdict is Verdict.HOLD
    assert judge(applied(), "h2", at(300), "crm", windowed) == Judgement(Verdict.APPLY)


def test_source_priority_needs_its_list() -> None:
    with pytest.raises(ValueError, match="source_priority list"):
        ConflictConfig(policy="source_priority")


def test_source_priority_lets_an_older_concurrent_change_of_the_higher_source_win() -> None:
    windowed = ConflictConfig(
        policy="source_priority", source_priority=("crm", "shop"), window_seconds=60
    )
    newer_shop_edit = applied("shop", seconds=10)
    older_crm_edit = judge(newer_shop_edit, "h2", at(0), "crm", windowed)
    assert older_crm_edit == Judgement(Verdict.APPLY, conflict=True)
    # outside the window the older change is just stale
    assert judge(applied("shop", seconds=90), "h2", at(0), "crm", windowed).verdict is (
        Verdict.STALE
    )


def test_a_change_that_contradicts_no_field_of_the_applied_state_is_no_conflict() -> None:
    prior = AppliedState("h1", at(0), "shop", {"email": "a@x", "name": "Ada", "city": "London"})
    echo = {"email": "a@x", "name": "Ada", "phone": "+44"}  # adds a field, contradicts none
    edit = {"email": "a@x", "name": "Grace"}
    assert judge(prior, "h2", at(1), "crm", REVIEW, incoming_state=echo) == Judgement(Verdict.APPLY)
    assert judge(prior, "h3", at(1), "crm", REVIEW, incoming_state=edit) == Judgement(
        Verdict.HOLD, conflict=True
    )
