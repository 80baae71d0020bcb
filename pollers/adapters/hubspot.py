"""HubSpot-compatible CRM: CRM v3 search by modification date, ``after`` paging.

``POST {base_url}/crm/v3/objects/{object_type}/search`` with one filter
``{modified_property} GTE since`` (Unix ms), sorted by that property ascending,
``limit`` per page and the answer's ``paging.next.after`` as the page token. Each result
(``id``, ``properties``, ``updatedAt``) becomes a body in the shape of HubSpot's webhook
event, so the processors' HubSpot normaliser reads it::

    {"portalId": …, "objectId": …, "occurredAt": <updatedAt, ms>,
     "subscriptionType": "contact.snapshot", "properties": {…}}

(``contact.snapshot``: a whole contact read from the API rather than one property change;
companies and deals give ``company.snapshot``/``deal.snapshot``, which pass through.)
Authentication: ``Authorization: Bearer`` with a private-app token. HubSpot's search
answers at most 10,000 results per query: the runner moves ``since`` forward page by page,
so no query walks that far.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Literal

import orjson
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from pollers.adapters.http import JsonClient
from pollers.base import Page, PolledRecord, PollError

_SINGULAR = {"contacts": "contact", "companies": "company", "deals": "deal"}


class HubSpotPollConfig(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["hubspot"] = "hubspot"
    base_url: str = Field("https://api.hubapi.com", description="The CRM API's base URL.")
    token: SecretStr = Field(description="Private-app token ('secret:<name>').")
    portal_id: int = Field(description="The HubSpot account (portal) polled: scopes IDs.")
    object_type: Literal["contacts", "companies", "deals"] = Field(
        "contacts", description="CRM object type polled."
    )
    modified_property: str = Field(
        "lastmodifieddate",
        description="Modification-date property (contacts: lastmodifieddate; other objects: "
        "hs_lastmodifieddate).",
    )
    properties: tuple[str, ...] = Field(
        ("email", "firstname", "lastname", "phone", "company"),
        description="Properties read for each object.",
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Longest wait for one page.")


class HubSpotAdapter:
    provider = "hubspot"

    def __init__(self, config: HubSpotPollConfig) -> None:
        self._config = config
        token = config.token.get_secret_value()
        self._client = JsonClient({"Authorization": f"Bearer {token}"}, config.timeout_seconds)
        base = config.base_url.rstrip("/")
        self._url = f"{base}/crm/v3/objects/{config.object_type}/search"

    async def fetch(self, since: datetime | None, after: str | None, limit: int) -> Page:
        answer = await self._client.post(self._url, self._query(since, after, limit))
        try:
            records = tuple(self._record(result) for result in answer["results"])
            token = (answer.get("paging") or {}).get("next", {}).get("after")
        except (KeyError, TypeError, ValueError, AttributeError):
            raise PollError("unexpected search answer") from None
        return Page(records, str(token) if token is not None else None)

    def _query(self, since: datetime | None, after: str | None, limit: int) -> dict[str, Any]:
        prop = self._config.modified_property
        query: dict[str, Any] = {
            "sorts": [{"propertyName": prop, "direction": "ASCENDING"}],
            "properties": [*self._config.properties, prop],
            "limit": limit,
        }
        if since is not None:
            millis = str(int(since.timestamp() * 1000))
            filters = [{"propertyName": prop, "operator": "GTE", "value": millis}]
            query["filterGroups"] = [{"filters": filters}]
        if after is not None:
            query["after"] = after
        return query

    def _record(self, result: dict[str, Any]) -> PolledRecord:
        updated = datetime.fromisoformat(str(result["updatedAt"]).replace("Z", "+00:00"))
        kind = _SINGULAR[self._config.object_type]
        body = {
            "portalId": self._config.portal_id,
            "objectId": int(result["id"]),
            "occurredAt": int(updated.astimezone(UTC).timestamp() * 1000),
            "subscriptionType": f"{kind}.snapshot",
            "properties": dict(result.get("properties") or {}),
        }
        event_type = f"{kind}.snapshot"
        return PolledRecord(f"{kind}:{result['id']}", updated, orjson.dumps(body), event_type)

    async def close(self) -> None:
        await self._client.close()
