"""Dead-letter topics (``*.dlq``): the original record untouched, plus context headers.

The key, value, original headers and timestamp are copied as they were. Context is added
as headers named in Kafka Connect's style with a ``hookline.errors.`` prefix, modelled by
:class:`DeadLetterContext`. Replaying a dead letter means producing its key, value and
original headers (those without the prefix) back to ``hookline.errors.topic``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime
from typing import Any

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator

ERROR_HEADER_PREFIX = "hookline.errors."
MAX_MESSAGE_CHARS = 1000


class DeadLetterContext(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    topic: str = Field(description="Topic the record was consumed from.")
    partition: int = Field(description="Its partition.")
    offset: int = Field(description="Its offset.")
    stage: str = Field(description="Where it failed: parse, normalise, deliver, …")
    component: str = Field(description="Which processor or connector failed it.")
    exception_class: str = Field(description="Class name of the error.")
    exception_message: str = Field(
        max_length=MAX_MESSAGE_CHARS, description="Error message, truncated, secrets removed."
    )
    attempts: int = Field(1, ge=1, description="Delivery attempts made.")
    failed_at: AwareDatetime = Field(description="When it was dead-lettered.")
    http_status: int | None = Field(None, description="Last HTTP status (connectors).")
    http_body: str | None = Field(
        None, max_length=MAX_MESSAGE_CHARS, description="Last response body, truncated."
    )

    @field_validator("exception_message", "http_body", mode="before")
    @classmethod
    def _truncate(cls, value: Any) -> Any:
        if isinstance(value, str) and len(value) > MAX_MESSAGE_CHARS:
            return value[: MAX_MESSAGE_CHARS - 1] + "…"
        return value

    def to_headers(self) -> list[tuple[str, bytes]]:
        out = []
        for name, value in self.model_dump(exclude_none=True).items():
            text = value.isoformat() if isinstance(value, datetime) else str(value)
            out.append((ERROR_HEADER_PREFIX + name.replace("_", "."), text.encode()))
        return out

    @classmethod
    def from_headers(cls, headers: Iterable[tuple[str, bytes | None]]) -> DeadLetterContext:
        fields = {
            name.removeprefix(ERROR_HEADER_PREFIX).replace(".", "_"): (value or b"").decode()
            for name, value in headers
            if name.startswith(ERROR_HEADER_PREFIX)
        }
        return cls.model_validate(fields)


def original_headers(headers: Iterable[tuple[str, bytes | None]]) -> list[tuple[str, bytes]]:
    """The headers the record had before it was dead-lettered."""
    return [(n, v or b"") for n, v in headers if not n.startswith(ERROR_HEADER_PREFIX)]
