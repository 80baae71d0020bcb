"""Shopify-compatible shop: the Admin GraphQL ``orders`` query, by ``updated_at``.

``POST {base_url}/admin/api/{api_version}/graphql.json`` (``X-Shopify-Access-Token``)
with ``orders(first, after, query: "updated_at:>='<since>'", sortKey: UPDATED_AT)``;
the page token is ``pageInfo.endCursor`` while ``hasNextPage``. A ``THROTTLED`` error
(HTTP 200, Shopify's cost limit) is :class:`PollThrottled` for the time the answer's
``throttleStatus`` needs to restore the query's cost.

Each order becomes the body of its ``orders/updated`` webhook with every field the
canonical Order reads (:mod:`pollers.adapters.shopify_order`): totals, line items,
buyer, shipping address, note attributes. A poll is therefore a *full* snapshot, and a
webhook and a poll of one state are one canonical event with the same content.

**Cost** (Shopify: an object 1 point, a connection 2 + ``first`` * its node, one query at
most 1,000 points). One order node costs 1 (the order) + 3 * 2 (``totalPriceSet``,
``subtotalPriceSet``, ``totalTaxSet``: bag and ``shopMoney``) + 2 (``customer``, its
``defaultAddress``) + 1 (``shippingAddress``) + 1 (``customAttributes``) = 11, plus its
``lineItems(first: 10)``: 2 + 10 * 4 (item, ``originalUnitPriceSet``, ``shopMoney``,
``product``) = 42, so 53. A page of ``n`` orders costs 2 + 53 * n: at most
:data:`MAX_PAGE_SIZE` = 18 orders (956 points), whatever the poller's ``page_size`` asks.

**Orders with more line items** than the page read (10): the rest is fetched by a
follow-up ``order(id) { lineItems(first: 249, after) }`` per such order (1 + 2 + 249 * 4
= 999 points), until its ``hasNextPage`` is false, so every body holds all line items.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pollers.adapters.http import JsonClient
from pollers.adapters.shopify_order import LINE_ITEM_FIELDS, ORDER_FIELDS, webhook_body
from pollers.base import Page, PolledRecord, PollError, PollThrottled

MAX_QUERY_COST = 1000  # Shopify's limit for one query
LINE_ITEMS_PER_ORDER = 10  # read with the page; more: a follow-up query per order
LINE_ITEM_COST = 4  # item, originalUnitPriceSet, shopMoney, product
ORDER_COST = 11 + 2 + LINE_ITEMS_PER_ORDER * LINE_ITEM_COST  # the order, its lineItems
MAX_PAGE_SIZE = (MAX_QUERY_COST - 2) // ORDER_COST  # 18: 2 + 18 * 53 = 956
MORE_LINE_ITEMS = (MAX_QUERY_COST - 3) // LINE_ITEM_COST  # 249: 1 + 2 + 249 * 4 = 999

QUERY = (
    """
query Poll($first: Int!, $after: String, $query: String, $lines: Int!) {
  orders(first: $first, after: $after, query: $query, sortKey: UPDATED_AT) {
    edges { cursor node {
      ...PolledOrder
      lineItems(first: $lines) { nodes { ...PolledLineItem } pageInfo { hasNextPage endCursor } }
    } }
    pageInfo { hasNextPage endCursor }
  }
}
"""
    + ORDER_FIELDS
    + LINE_ITEM_FIELDS
)
LINE_ITEMS_QUERY = (
    """
query PollLineItems($id: ID!, $first: Int!, $after: String) {
  order(id: $id) {
    lineItems(first: $first, after: $after) {
      nodes { ...PolledLineItem } pageInfo { hasNextPage endCursor }
    }
  }
}
"""
    + LINE_ITEM_FIELDS
)


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
        """Up to ``limit`` orders, at most :data:`MAX_PAGE_SIZE`, with all their line items."""
        variables: dict[str, Any] = {
            "first": min(limit, MAX_PAGE_SIZE), "after": after, "lines": LINE_ITEMS_PER_ORDER,
        }  # fmt: skip
        if since is not None:
            stamp = since.astimezone(UTC).isoformat().replace("+00:00", "Z")
            variables["query"] = f"updated_at:>='{stamp}'"
        orders = await self._query(QUERY, variables, "orders")
        try:
            nodes = [edge["node"] for edge in orders["edges"]]
            info = orders["pageInfo"]
        except (KeyError, TypeError):
            raise PollError("unexpected orders answer") from None
        records = tuple([await self._record(node) for node in nodes])
        return Page(records, info["endCursor"] if info.get("hasNextPage") else None)

    async def _record(self, node: dict[str, Any]) -> PolledRecord:
        try:
            lines = node["lineItems"]
            items = list(lines["nodes"])
            more = lines["pageInfo"]["endCursor"] if lines["pageInfo"]["hasNextPage"] else None
            if more is not None:
                items += await self._more_line_items(node["id"], more)
            return _record(node, items)
        except (KeyError, TypeError, ValueError, IndexError):
            raise PollError("unexpected orders answer") from None

    async def _more_line_items(self, order_id: str, after: str | None) -> list[dict[str, Any]]:
        """The order's line items after ``after``, every page of them."""
        items: list[dict[str, Any]] = []
        while after is not None:
            variables = {"id": order_id, "first": MORE_LINE_ITEMS, "after": after}
            order = await self._query(LINE_ITEMS_QUERY, variables, "order")
            lines = order["lineItems"]
            items += lines["nodes"]
            after = lines["pageInfo"]["endCursor"] if lines["pageInfo"]["hasNextPage"] else None
        return items

    async def _query(self, query: str, variables: dict[str, Any], root: str) -> Any:
        answer = await self._client.post(self._url, {"query": query, "variables": variables})
        _raise_errors(answer)
        try:
            data = answer["data"][root]
        except (KeyError, TypeError):
            raise PollError(f"unexpected {root} answer") from None
        if data is None:
            raise PollError(f"{root} not found")
        return data

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


def _record(node: dict[str, Any], line_items: list[dict[str, Any]]) -> PolledRecord:
    body = webhook_body(node, line_items)
    updated = datetime.fromisoformat(str(node["updatedAt"]).replace("Z", "+00:00"))
    return PolledRecord(f"order:{body['id']}", updated, orjson.dumps(body), "orders/updated")
