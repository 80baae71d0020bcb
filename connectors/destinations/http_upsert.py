"""A generic JSON HTTP upsert: ``PUT {base_url}/{family}/{url-encoded entity id}``.

- **Partial snapshots** (``data.partial``) are sent as ``PATCH`` to the same URL with only
  the fields they carry: unset fields are unknown at the origin, not empty.
- **Request**: the state as a JSON object: the CloudEvent's entity snapshot without the
  ``exclude_fields`` (by default ``updated_at``, which orders changes but is not content:
  a re-sent snapshot with a new timestamp is then recognised as unchanged). Headers:
  ``Authorization: Bearer <token>`` when a token is configured, ``Idempotency-Key``,
  ``X-Hookline-Version`` (the entity's ``updated_at``, ISO 8601) and ``X-Hookline-Source``.
- **Idempotency**: a PUT replaces the entity, so repeating it is harmless; the
  ``Idempotency-Key`` (stable per connector and CloudEvent) also lets a server that
  records keys answer a repeat without writing again.
- **Statuses**: 2xx applied; 408, 429, 500, 502, 503, 504, timeouts and connection errors
  retried (``Retry-After`` honoured); anything else permanent (no vendor extras).
- **Rate limits**: ``RateLimit-*`` / ``X-RateLimit-*`` response headers adjust the budget.
- **Probe** (when the connectors service probes): ``GET {base_url}``; healthy when it
  answers below 500 with the token accepted (a 404 or 405 counts: an upsert API need not
  serve its root), unhealthy on a 5xx, 401/403, a timeout or a refused connection.
- **wants**: every event of the connector's families except those whose source is in
  ``ignore_sources`` (e.g. the destination system itself, whose own changes need not be
  pushed back to it).
"""

from __future__ import annotations

import re
from typing import Any, Literal
from urllib.parse import quote

import orjson
from pydantic import Field, SecretStr

from connectors.destinations.base import (
    Applied,
    Change,
    DestinationConfig,
    DestinationContext,
    DestinationSpec,
)
from connectors.errors import DeliveryError, PermanentError
from connectors.http import HttpClient
from schemas.events import CloudEvent

_SOURCE_PREFIX = "/hookline/"
_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]+")  # RFC 3986 unreserved: never encoded


class HttpUpsertConfig(DestinationConfig):
    type: Literal["http_upsert"] = "http_upsert"
    base_url: str = Field(pattern=r"^https?://", description="API root; no trailing slash.")
    token: SecretStr | None = Field(None, description="Bearer token, when the API wants one.")
    exclude_fields: tuple[str, ...] = Field(
        ("updated_at",), description="Entity fields left out of the pushed (and hashed) state."
    )
    ignore_sources: tuple[str, ...] = Field(
        (), description="Source names whose events are not pushed (echo suppression)."
    )


class HttpUpsert:
    def __init__(self, config: HttpUpsertConfig, http: HttpClient) -> None:
        self._config = config
        self._http = http
        self._base = config.base_url.rstrip("/")
        self._exclude = {*config.exclude_fields, "partial"}  # a flag of the event, not content

    def wants(self, event: CloudEvent) -> bool:
        return event.source.removeprefix(_SOURCE_PREFIX) not in self._config.ignore_sources

    def state_for(self, event: CloudEvent) -> dict[str, Any]:
        return event.data.model_dump(mode="json", exclude=self._exclude)

    async def apply(self, change: Change, idempotency_key: str) -> Applied:
        headers = {
            "Idempotency-Key": idempotency_key,
            "X-Hookline-Version": change.version.isoformat(),
            "X-Hookline-Source": change.source,
            **self._auth(),
        }
        url = f"{self._base}/{change.family}/{path_segment(change.entity_id)}"
        if change.patch is None:  # the state as the runner encoded it: not encoded again
            encoded = change.encoded or orjson.dumps(dict(change.state))
            response = await self._http.request("PUT", url, encoded=encoded, headers=headers)
        else:
            patch = dict(change.patch)
            response = await self._http.request("PATCH", url, json=patch, headers=headers)
        return Applied(rate_limit=response.rate_limit)

    async def probe(self) -> None:
        try:
            await self._http.request("GET", self._base, headers=self._auth())
        except DeliveryError as error:
            if not isinstance(error, PermanentError) or error.status in (None, 401, 403):
                raise

    def _auth(self) -> dict[str, str]:
        token = self._config.token
        return {} if token is None else {"Authorization": f"Bearer {token.get_secret_value()}"}


def path_segment(text: str) -> str:
    """``text`` percent-encoded as one path segment; most ids need nothing (and quote()
    costs a few microseconds on every call)."""
    return text if _UNRESERVED.fullmatch(text) else quote(text, safe="")


def create(config: HttpUpsertConfig, context: DestinationContext) -> HttpUpsert:
    return HttpUpsert(config, context.http)


SPEC = DestinationSpec(name="http_upsert", config_model=HttpUpsertConfig, create=create)
