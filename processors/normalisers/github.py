"""GitHub webhooks -> Passthrough, in a typed envelope.

Hookline models no GitHub entity: every event passes through whole (action ``received``;
``providereventtype`` is ``X-GitHub-Event`` plus ``.{action}``, e.g. ``issues.opened``).
What is typed is the envelope: the body's ``repository``, ``organization``, ``installation``
and ``sender`` are checked (:class:`GitHubEnvelope`) and choose the key, so one
repository's events stay in order:

- ``github:repository:{id}`` when the event names a repository (IDs survive renames;
  ``external_ids`` adds ``github_full_name``);
- else ``github:installation:{id}``, else ``github:organization:{id}``;
- else one key per delivery (``github:{source}:{event id}``).

Bodies come as JSON or form-encoded with the JSON in the ``payload`` field (by the hook's
content type). GitHub sends no event time: ``updated_at`` is the ``updated_at`` of the
object the event is about (``issue`` for ``issues``, ``pull_request``, …) when it has one,
else the ingress ``received_at``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from urllib.parse import parse_qs

from pydantic import BaseModel, ConfigDict

from processors.normalisers.base import InvalidPayload, ProviderNormaliser, RawEvent, passthrough
from processors.normalisers.fields import Obj, json_object
from schemas.events import CloudEvent


class _Provider(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class GitHubAccount(_Provider):
    id: int
    login: str


class GitHubRepository(_Provider):
    id: int
    full_name: str


class GitHubInstallation(_Provider):
    id: int


class GitHubEnvelope(_Provider):
    """The fields most GitHub events share; the rest of the body is not interpreted."""

    action: str | None = None
    repository: GitHubRepository | None = None
    organization: GitHubAccount | None = None
    installation: GitHubInstallation | None = None
    sender: GitHubAccount | None = None


class GitHubNormaliser(ProviderNormaliser):
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        body = _body(raw)
        envelope = GitHubEnvelope.model_validate(body.data)
        entity_id, external = _key(envelope)
        event_name = raw.headers.event_type.partition(".")[0]
        return [
            passthrough(
                raw,
                dict(body.data),
                entity_id=entity_id,
                external_ids=external,
                updated_at=_subject_updated_at(body, event_name),
            )
        ]


def _body(raw: RawEvent) -> Obj:
    if not raw.is_form_encoded:
        return json_object(raw.body)
    fields = parse_qs(raw.body.decode("utf-8", errors="replace"))
    if "payload" not in fields:
        raise InvalidPayload("form-encoded body without a payload field")
    return json_object(fields["payload"][0].encode())


def _key(envelope: GitHubEnvelope) -> tuple[str | None, dict[str, str]]:
    if envelope.repository is not None:
        repo = envelope.repository
        ids = {"github": str(repo.id), "github_full_name": repo.full_name}
        return f"github:repository:{repo.id}", ids
    if envelope.installation is not None:
        native = str(envelope.installation.id)
        return f"github:installation:{native}", {"github": native}
    if envelope.organization is not None:
        native = str(envelope.organization.id)
        return f"github:organization:{native}", {"github": native}
    return None, {}


def _subject_updated_at(body: Obj, event_name: str) -> datetime | None:
    """``updated_at`` of the object the event is about, e.g. ``issue`` for ``issues``."""
    for name in (event_name, event_name.removesuffix("s")):
        subject: Any = body.get(name)
        if isinstance(subject, dict) and isinstance(subject.get("updated_at"), str):
            return Obj(subject, f"body.{name}").time("updated_at")
    return None


NORMALISER = GitHubNormaliser()
