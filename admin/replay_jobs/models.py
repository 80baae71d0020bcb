"""What the replay-jobs routes take and give."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import AwareDatetime, BaseModel, Field

from admin.dead_letters.models import DeadLetterFilter, Name, PageParams

JobState = Literal["queued", "running", "succeeded", "cancelled"]


class ReplayJobRequest(DeadLetterFilter):
    """The dead letters to replay: the list's filters (open ones only, as indexed now)."""

    chunk_size: int = Field(
        100,
        ge=1,
        le=1000,
        description="Dead letters replayed per step; progress is saved after each.",
    )


class ReplayJobQuery(PageParams):
    """Which jobs: the list's filters, newest first."""

    state: JobState | None = Field(None, description="queued, running, succeeded, cancelled.")
    created_by: Name | None = Field(None, description="Made by this actor (user:…, key:…).")
    created_after: AwareDatetime | None = Field(None, description="Made at or after.")
    created_before: AwareDatetime | None = Field(None, description="Made before.")


class ReplayJob(BaseModel):
    id: int
    state: JobState = Field(description="queued, running, succeeded or cancelled.")
    filters: dict[str, Any] = Field(description="The filters it was made with.")
    chunk_size: int
    total: int = Field(description="Open dead letters matching when the job was made.")
    done: int = Field(description="Replayed by this job.")
    failed: int = Field(description="Not replayable: no longer readable in Kafka.")
    skipped: int = Field(description="Replayed or discarded otherwise before the job came.")
    remaining: int = Field(description="total - done - failed - skipped, at least 0.")
    created_by: str
    created_at: datetime
    started_at: datetime | None
    updated_at: datetime
    finished_at: datetime | None
    cancelled_by: str | None
    last_error: str | None = Field(description="Why the last step is being retried, if it is.")
