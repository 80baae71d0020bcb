"""Shopify-compatible shop: the Admin GraphQL ``orders`` query, by ``updated_at``.

``POST {base_url}/admin/api/{api_version}/graphql.json`` (``X-Shopify-Access-Token``)
with ``orders(first, after, query: "updated_at:>='<since>'", sortKey: UPDATED_AT)``;
the page token is ``pageInfo.endCursor`` while ``hasNextPage``. A ``THROTTLED`` error
(HTTP 200, Shopify's cost limit) is :class:`PollThrottled` for the time the answer's
``throttleStatus`` needs to restore the query's cost.

Each order node becomes a body in the shape of Shopify's ``orders/updated`` webhook (the
REST resource: numeric ``id``, ``name``, ``email``, ``note``, ``tags`` as one
comma-separated string, ``financial_status`` in lower case, ``updated_at``,
``admin_graphql_api_id``), so the processors' Shopify normaliser reads it; fields the
query does not select are absent, as in a trimmed webhook.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pollers.adapters.http import JsonClient
from pollers.base import Page, PolledRecord, PollError, PollThrottled

QUERY = """
query Poll($first: Int!, $after: String, $query: String) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    edges { cursor node { id name note tags email displayFinancialStatus updatedAt } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class ShopifyPollConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["shopify"] = "shopify"
    base_url: str = Field(description="The shop's URL, e.g. https://example.myshopify.com.")
    token: SecretStr = Field(description="Admin API access token ('secret:<name>').")
    api_version: str = Field("2025-01", description="Admin API version in the URL.")
    timeout_seconds: float = Field(30.0, gt=0, description="Longest wait for one page.")


class ShopifyAdapter:
    provider = "shopify"

    def __init__(self, config: ShopifyPollConfig) -> None:
        token = config.token.get_secret_value()
        self._client = JsonClient({"X-Shopify-Access-Token": token}, config.timeout_seconds)
        base = config.base_url.rstrip("/")
        self._url = f"{base}/admin/api/{config.api_version}/graphql.json"

    async def fetch(self, since: datetime | None, after: str | None, limit: int) -> Page:
        variables: dict[str, Any] = {"first": limit, "after": after}
        if since is not None:
            stamp = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
            variables["query"] = f"updated_at:>='{stamp}'"
        answer = await self._client.post(self._url, {"query": QUERY, "variables": variables})
        _raise_errors(answer)
        try:
            orders = answer["data"]["orders"]
            records = tuple(_record(edge["node"]) for edge in orders["edges"])
            info = orders["pageInfo"]
        except (KeyError, TypeError, ValueError):
            raise PollError("unexpected orders answer") from None
        return Page(records, info["endCursor"] if info.get("hasNextPage") else None)

    async def close(self) -> None:
        await self._client.close()


def _raise_errors(answer: Any) -> None:
    errors = answer.get("errors") if isinstance(answer, dict) else None
    if not errors:
        return
    codes = {str((e.get("extensions") or {}).get("code")) for e in errors if isinstance(e, dict)}
    if "THROTTLED" in codes:
        raise PollThrottled(_restore_seconds(answer))
    raise PollError(f"GraphQL errors: {sorted(codes)}")


def _restore_seconds(answer: dict[str, Any]) -> float:
    cost = (answer.get("extensions") or {}).get("cost") or {}
    status = cost.get("throttleStatus") or {}
    try:
        missing = float(cost["requestedQueryCost"]) - float(status["currentlyAvailable"])
        return max(missing, 0.0) / float(status["restoreRate"]) + 0.1
    except (KeyError, TypeError, ValueError, ZeroDivisionError):
        return 1.0


def _record(node: dict[str, Any]) -> PolledRecord:
    number = str(node["id"]).rsplit("/", 1)[1]
    updated = datetime.fromisoformat(str(node["updatedAt"]).replace("Z", "+00:00"))
    status = node.get("displayFinancialStatus")
    body = {
        "id": int(number),
        "admin_graphql_api_id": node["id"],
        "name": node.get("name"),
        "email": node.get("email"),
        "note": node.get("note"),
        "tags": ", ".join(node.get("tags") or []),
        "financial_status": status.lower() if isinstance(status, str) else None,
        "updated_at": node["updatedAt"],
    }
    return PolledRecord(f"order:{number}", updated, orjson.dumps(body), "orders/updated")
