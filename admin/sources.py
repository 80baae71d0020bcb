"""The webhook sources the ingress is configured with (``ingress.sources_file``), read as
plain TOML: name, provider type, body limit, how many secrets are configured (never the
secrets), and the requests it answered per source, sampled from the ingress workers'
counters (:mod:`admin.ingress_counts`; null when no worker URL is configured).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from admin.configured import tables, text
from admin.ingress_counts import IngressCounts
from admin.routing import Call, Reply, Route
from admin.state import INGRESS_COUNTS, SETTINGS


class Counts(BaseModel):
    accepted: int = Field(description="Answered 2xx: durably in Kafka.")
    rejected: int = Field(description="Answered 4xx: signature, size, malformed.")
    failed: int = Field(description="Answered 5xx: Kafka did not acknowledge in time.")


class Window(Counts):
    window_seconds: int = Field(description="The window: the last 300 or 3600 seconds.")
    covered_seconds: float = Field(
        description="How much of it the admin service's samples span (less while it is young)."
    )


class Requests(BaseModel):
    since_worker_start: Counts = Field(description="Summed over the workers answering now.")
    windows: list[Window] = Field(description="Increases over the last 5 minutes and hour.")


class Source(BaseModel):
    name: str = Field(description="The URL path: POST /webhooks/{name}.")
    provider: str | None = Field(description="Provider type (stripe, shopify, …).")
    max_body_bytes: int | None = Field(description="Its own body limit; null: the ingress's.")
    secrets: int = Field(description="How many signing secrets are configured (rotation).")
    requests: Requests | None = Field(
        description="Requests the ingress answered; null: admin.ingress_metrics_urls unset."
    )


def _requests(counts: IngressCounts, name: str) -> Requests | None:
    if not counts.configured:
        return None
    windows = [Window.model_validate(w) for w in counts.windows(name)]
    return Requests(since_worker_start=Counts(**counts.since_worker_start(name)), windows=windows)


def _source(name: str, table: dict[str, object], counts: IngressCounts) -> dict[str, object]:
    limit = table.get("max_body_bytes")
    secrets = table.get("secrets")
    return Source(
        name=name,
        provider=text(table, "provider"),
        max_body_bytes=limit if isinstance(limit, int) else None,
        secrets=len(secrets) if isinstance(secrets, list) else 0,
        requests=_requests(counts, name),
    ).model_dump(mode="json")


async def list_sources(call: Call) -> Reply:
    path = call.request.app[SETTINGS].ingress.sources_file
    counts = call.request.app[INGRESS_COUNTS]
    items = [_source(n, t, counts) for n, t in sorted(tables(path, "sources").items())]
    workers = {"configured": len(counts.urls), "answering": counts.answering}
    return Reply(items, meta={"total": len(items), "ingress_workers": workers})


ROUTES = [
    Route(
        "GET",
        "/api/v1/sources",
        "listSources",
        list_sources,
        "viewer",
        list[Source],
        "The configured webhook sources, provider types and request counts; not paginated.",
        "sources",
    ),
]
