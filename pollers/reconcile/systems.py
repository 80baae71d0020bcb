"""What each system holds of a family, read whole: the entities by key, with the key
fields compared (customer: ``email``, ``first_name``, ``last_name``), normalised so that
equal data compares equal whichever system holds it (emails trimmed and in lower case,
names trimmed, a full name split into first and last as the HubSpot connector does).

Readers raise :class:`~pollers.base.PollError` when a system cannot be read (HTTP
failures mapped in :mod:`pollers.adapters.http`; the warehouse's database errors
propagate as ``psycopg.Error``). HubSpot pages by ``hs_object_id`` (no 10,000-result
search limit); Shopify by ``pageInfo.endCursor``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Protocol

from psycopg_pool import AsyncConnectionPool

from pollers.adapters.http import JsonClient
from pollers.base import PollError
from pollers.reconcile.config import HubSpotSystem, ShopifySystem, SystemConfig, WarehouseSystem

FIELDS = ("email", "first_name", "last_name")
PAGE_SIZE = 100
Fields = Mapping[str, str | None]


@dataclass(frozen=True, slots=True)
class Seen:
    key: str  # what both systems share
    ref: str  # the system's own ID of the entity
    fields: Fields


class System(Protocol):
    async def customers(self) -> dict[str, Seen]: ...

    async def close(self) -> None: ...


def customer_fields(
    email: str | None, first: str | None, last: str | None, name: str | None = None
) -> dict[str, str | None]:
    if name and not (first or last):
        first, _, last = name.strip().partition(" ")
    return {
        "email": email.strip().lower() if email and email.strip() else None,
        "first_name": first.strip() if first and first.strip() else None,
        "last_name": last.strip() if last and last.strip() else None,
    }


def _keyed(seen: list[Seen]) -> dict[str, Seen]:
    return {s.key: s for s in seen if s.key}


class Warehouse:
    """``warehouse.customers`` of hookline's database."""

    _SQL = "SELECT id, email, first_name, last_name, name FROM warehouse.customers"

    def __init__(self, config: WarehouseSystem, pool: AsyncConnectionPool) -> None:
        self._config = config
        self._pool = pool

    async def customers(self) -> dict[str, Seen]:
        async with self._pool.connection() as conn:
            rows = await (await conn.execute(self._SQL)).fetchall()
        seen = []
        for ident, email, first, last, name in rows:
            fields = customer_fields(email, first, last, name)
            key = ident if self._config.key == "id" else fields["email"]
            seen.append(Seen(key or "", ident, fields))
        return _keyed(seen)

    async def close(self) -> None:
        return None


class HubSpot:
    """Every contact, through CRM v3 search sorted by ``hs_object_id``."""

    def __init__(self, config: HubSpotSystem) -> None:
        self._config = config
        token = config.token.get_secret_value()
        self._client = JsonClient({"Authorization": f"Bearer {token}"}, config.timeout_seconds)
        self._url = f"{config.base_url.rstrip('/')}/crm/v3/objects/contacts/search"

    async def customers(self) -> dict[str, Seen]:
        seen: list[Seen] = []
        last = "0"
        while True:
            answer = await self._client.post(self._url, self._query(last))
            try:
                results = list(answer["results"])
                seen += [self._seen(r) for r in results]
            except (KeyError, TypeError, ValueError):
                raise PollError("unexpected search answer") from None
            if len(results) < PAGE_SIZE:
                return _keyed(seen)
            last = seen[-1].ref

    def _query(self, last: str) -> dict[str, Any]:
        key = self._config.key_property
        return {
            "filterGroups": [
                {"filters": [{"propertyName": "hs_object_id", "operator": "GT", "value": last}]}
            ],
            "sorts": [{"propertyName": "hs_object_id", "direction": "ASCENDING"}],
            "properties": sorted({"email", "firstname", "lastname", key}),
            "limit": PAGE_SIZE,
        }

    def _seen(self, result: Mapping[str, Any]) -> Seen:
        props = result.get("properties") or {}
        fields = customer_fields(props.get("email"), props.get("firstname"), props.get("lastname"))
        key = self._config.key_property
        value = fields["email"] if key == "email" else props.get(key)
        return Seen(str(value or ""), str(result["id"]), fields)

    async def close(self) -> None:
        await self._client.close()


_CUSTOMERS = """
query Customers($first: Int!, $after: String) {
  customers(first: $first, after: $after) {
    edges { node { id email firstName lastName } }
    pageInfo { hasNextPage endCursor }
  }
}
"""


class Shopify:
    """Every customer, through the Admin GraphQL ``customers`` connection (cost 2 + 100
    per page: far below the 1,000-point limit of one query)."""

    def __init__(self, config: ShopifySystem) -> None:
        token = config.token.get_secret_value()
        self._client = JsonClient({"X-Shopify-Access-Token": token}, config.timeout_seconds)
        base = config.base_url.rstrip("/")
        self._url = f"{base}/admin/api/{config.api_version}/graphql.json"

    async def customers(self) -> dict[str, Seen]:
        seen: list[Seen] = []
        after: str | None = None
        while True:
            variables = {"first": PAGE_SIZE, "after": after}
            body = {"query": _CUSTOMERS, "variables": variables}
            answer = await self._client.post(self._url, body)
            try:
                page = answer["data"]["customers"]
                for edge in page["edges"]:
                    node = edge["node"]
                    fields = customer_fields(node.get("email"), node.get("firstName"),
                                             node.get("lastName"))  # fmt: skip
                    seen.append(Seen(fields["email"] or "", str(node["id"]), fields))
                info = page["pageInfo"]
            except (KeyError, TypeError, ValueError):
                raise PollError("unexpected customers answer") from None
            if not info.get("hasNextPage"):
                return _keyed(seen)
            after = info["endCursor"]

    async def close(self) -> None:
        await self._client.close()


def build(config: SystemConfig, pool: AsyncConnectionPool) -> System:
    if isinstance(config, WarehouseSystem):
        return Warehouse(config, pool)
    if isinstance(config, HubSpotSystem):
        return HubSpot(config)
    return Shopify(config)
