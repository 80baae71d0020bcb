"""The webhook sources the ingress is configured with (``ingress.sources_file``), read as
plain TOML: name, provider type, body limit, how many secrets are configured (never the
secrets). Accepted and rejected counts are not recorded anywhere the admin service reads
yet (they are Prometheus counters of the ingress).
"""

from __future__ import annotations

from pydantic import BaseModel, Field

from admin.configured import tables, text
from admin.routing import Call, Reply, Route
from admin.state import SETTINGS


class Source(BaseModel):
    name: str = Field(description="The URL path: POST /webhooks/{name}.")
    provider: str | None = Field(description="Provider type (stripe, shopify, …).")
    max_body_bytes: int | None = Field(description="Its own body limit; null: the ingress's.")
    secrets: int = Field(description="How many signing secrets are configured (rotation).")


def _source(name: str, table: dict[str, object]) -> dict[str, object]:
    limit = table.get("max_body_bytes")
    secrets = table.get("secrets")
    return Source(
        name=name,
        provider=text(table, "provider"),
        max_body_bytes=limit if isinstance(limit, int) else None,
        secrets=len(secrets) if isinstance(secrets, list) else 0,
    ).model_dump(mode="json")


async def list_sources(call: Call) -> Reply:
    path = call.request.app[SETTINGS].ingress.sources_file
    items = [_source(n, t) for n, t in sorted(tables(path, "sources").items())]
    return Reply(items, meta={"total": len(items)})


ROUTES = [
    Route(
        "GET",
        "/api/v1/sources",
        "listSources",
        list_sources,
        "viewer",
        list[Source],
        "The configured webhook sources and their provider types; not paginated.",
        "sources",
    ),
]
