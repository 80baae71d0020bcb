"""What the connectors routes take and give."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

BreakerState = Literal["closed", "half_open", "open"]


class InstanceStatus(BaseModel):
    instance: str = Field(description="host:pid:random, or the configured instance id.")
    breaker_state: BreakerState
    paused: bool = Field(description="This instance has applied an operator's pause.")
    partitions: int = Field(description="Partitions it holds.")
    lag: int | None = Field(description="Records behind on its event topics; null: unknown.")
    started_at: datetime
    updated_at: datetime = Field(description="Its last heartbeat (about every second).")
    live: bool = Field(description="Heartbeat within the last 15 seconds.")


class RateBudget(BaseModel):
    bucket: str = Field(description="The shared token bucket (rate_limit_buckets).")
    tokens: float = Field(description="Tokens left now (negative: reserved ahead).")
    capacity: float
    refill_per_second: float


class LastBatch(BaseModel):
    outcome: str = Field(description="ok, partial or failed.")
    record_count: int
    finished_at: datetime


class ConnectorStatus(BaseModel):
    name: str
    destination: str | None = Field(description="Destination type; null: not known yet.")
    configured: bool = Field(description="Declared in the connectors file admin reads.")
    paused: bool = Field(description="An operator paused it (connector_controls).")
    pause_changed_by: str | None
    pause_changed_at: datetime | None
    pause_reason: str | None
    breaker_state: BreakerState | Literal["unknown"] = Field(
        description="The worst of its live instances'; unknown: none is running."
    )
    lag: int | None = Field(description="Sum of its live instances' lag.")
    running_instances: int
    last_successful_batch_at: datetime | None = Field(description="Newest ok sync run.")
    last_batch: LastBatch | None
    rate_budget: RateBudget | None
    instances: list[InstanceStatus]


class PauseRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: str | None = Field(None, max_length=1000, description="Why (audit trail).")
