"""GitHub webhooks -> Passthrough in a typed envelope, on octokit's copies of the payload
examples GitHub publishes."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlencode

import orjson
import pytest

from processors.normalisers import normalise
from processors.normalisers.base import InvalidPayload
from schemas.events import Passthrough
from tests.unit.test_normalise_base import RECEIVED_AT, only, raw_event, sample

FORM = "application/x-www-form-urlencoded"


def run(event_type: str, body: bytes, content_type: str = "application/json") -> Passthrough:
    event = only(normalise(raw_event("github", event_type, body, content_type=content_type)))
    assert event.type == "dev.hookline.passthrough.received"
    assert event.providereventtype == event_type
    assert isinstance(event.data, Passthrough)
    return event.data


@pytest.mark.parametrize(
    ("event_type", "name"),
    [
        ("ping", "ping_payload.json"),
        ("push", "push_payload.json"),
        ("pull_request.opened", "pull_request_opened.payload.json"),
        ("issues.opened", "issues_opened.payload.json"),
    ],
)
def test_repository_events_are_keyed_by_repository(event_type: str, name: str) -> None:
    body = sample("github", name)
    data = run(event_type, body)
    repo = orjson.loads(body)["repository"]
    assert data.id == f"github:repository:{repo['id']}"
    assert data.external_ids == {"github": str(repo["id"]), "github_full_name": repo["full_name"]}
    assert data.payload == orjson.loads(body)


def test_updated_at_is_the_subjects_when_it_has_one() -> None:
    issue = run("issues.opened", sample("github", "issues_opened.payload.json"))
    assert issue.updated_at == datetime(2019, 5, 15, 15, 20, 18, tzinfo=UTC)
    push = run("push", sample("github", "push_payload.json"))
    assert push.updated_at == RECEIVED_AT  # GitHub sends no event time


def test_installation_events_are_keyed_by_installation() -> None:
    data = run("installation.created", sample("github", "installation_created.payload.json"))
    assert data.id.startswith("github:installation:")


def test_form_encoded_delivery_equals_json_delivery() -> None:
    body = sample("github", "issues_opened.payload.json")
    form = urlencode({"payload": body.decode()}).encode()
    assert run("issues.opened", form, FORM) == run("issues.opened", body)


def test_event_naming_nothing_is_keyed_by_delivery() -> None:
    data = run("meta.deleted", b'{"action": "deleted", "hook_id": 1}')
    assert data.id == "github:src:evt-1"


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        (b"payload", FORM),
        (b"other=1", FORM),
        (b"not json", "application/json"),
        (b'{"repository": {"id": "abc", "full_name": 3}}', "application/json"),
        (b'{"sender": "octocat"}', "application/json"),
    ],
)
def test_malformed_deliveries_are_invalid(body: bytes, content_type: str) -> None:
    with pytest.raises(InvalidPayload):
        run("issues.opened", body, content_type)
