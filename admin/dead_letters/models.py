"""What the dead-letters routes take and give (the OpenAPI document is built from these).

Filter values are names (topics, stages, classes, sources): anything else, or anything
longer than 200 characters, is a 422 before a query is built.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

MAX_LIMIT = 500
DEFAULT_LIMIT = 50
Name = Annotated[str, Field(min_length=1, max_length=200, pattern=r"^[A-Za-z0-9_.:/-]+$")]
TopicName = Annotated[str, Field(min_length=1, max_length=249, pattern=r"^[A-Za-z0-9._-]+$")]
State = Literal["open", "replayed", "discarded"]


class DeadLetterFilter(BaseModel):
    """Which dead letters: the filters a list and a bulk replay job share."""

    model_config = ConfigDict(extra="forbid")

    topic: TopicName | None = Field(None, description="Only this dead-letter topic.")
    stage: Name | None = Field(None, description="Failed at this stage (normalise, deliver…).")
    component: Name | None = Field(None, description="Failed in this processor/connector.")
    connector: Name | None = Field(None, description="Only this connector's dead letters.")
    exception_class: Name | None = Field(None, description="Only this error class.")
    source: Name | None = Field(None, description="Only this webhook source.")
    failed_after: AwareDatetime | None = Field(None, description="Failed at or after (ISO 8601).")
    failed_before: AwareDatetime | None = Field(None, description="Failed before (ISO 8601).")


class PageParams(BaseModel):
    """What every list route takes to page: a size and a previous page's cursor."""

    model_config = ConfigDict(extra="forbid")

    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")
    cursor: str | None = Field(None, max_length=200, description="A previous page's cursor.")


class DeadLetterQuery(DeadLetterFilter):
    replayed: bool | None = Field(None, description="true: replayed only; false: not replayed.")
    discarded: bool | None = Field(None, description="true: discarded only; false: not.")
    limit: int = Field(DEFAULT_LIMIT, ge=1, le=MAX_LIMIT, description="Page size.")
    cursor: str | None = Field(
        None, max_length=200, description="next_cursor or prev_cursor of a previous page."
    )


class ConnectorDeadLetterQuery(DeadLetterQuery):
    """The same filters, the connector being in the path."""

    connector: None = Field(None, description="Given by the path.")


class DeadLetterSummary(BaseModel):
    id: str = Field(description="'{topic}:{partition}:{offset}', stable.")
    topic: str = Field(description="The dead-letter topic.")
    partition: int
    offset: int
    state: State = Field(description="open, replayed or discarded.")
    connector: str | None = Field(description="The connector, for a connector's dead letter.")
    stage: str | None = Field(description="Where it failed; null: unreadable context.")
    component: str | None
    exception_class: str | None
    exception_message: str | None
    source: str | None = Field(description="The webhook source, when known.")
    original_topic: str | None = Field(description="Topic the failed record came from.")
    failed_at: datetime | None
    indexed_at: datetime
    replayed_at: datetime | None
    discarded_at: datetime | None
    key: str | None = Field(description="The record key as text (undecodable bytes escaped).")
    payload_bytes: int = Field(description="Size of the original value.")


class Header(BaseModel):
    name: str
    value: str | None = Field(description="As UTF-8 text; null when it is not text.")
    value_base64: str


class DeadLetterDetail(DeadLetterSummary):
    key_base64: str | None
    headers: list[Header] = Field(description="Every header, the hookline.errors.* included.")
    payload: str | None = Field(description="The value as UTF-8 text; null when not text.")
    payload_base64: str
    payload_truncated: bool = Field(description="The index keeps only the first bytes.")
    original_partition: int | None
    original_offset: int | None
    attempts: int | None
    http_status: int | None
    replayed_by: str | None
    discarded_by: str | None
    discard_reason: str | None


class DiscardRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str = Field(min_length=1, max_length=1000, description="Why it is not replayed.")


class ReplayResult(BaseModel):
    id: str
    target_topic: str = Field(description="Where it went: raw topic or connector retry topic.")
    state: State
    replayed_at: datetime | None
