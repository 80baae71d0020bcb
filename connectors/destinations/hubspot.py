"""HubSpot CRM (v3 objects API): customers → contacts (+ company), orders → deals,
payments → deal stage.

- **Mapping.** ``customer`` → contact upserted by ``contact_id_property`` (``email``:
  the customer's email); with a ``company`` name, a company upserted by
  ``external_id_property`` (``company:<name, lower case>``) and associated with the
  contact. ``order`` → deal upserted by ``external_id_property`` (the canonical order
  ID): ``dealname``, ``amount`` (decimal, ISO 4217 exponent), ``deal_currency_code``,
  ``pipeline`` and ``dealstage`` from ``order_stages``; with a customer email the deal is
  associated with that contact (upserted by email). ``payment`` → ``PATCH`` of its
  order's deal (``?idProperty=``) with the ``dealstage`` of ``payment_stages``; the order
  is the payment's ``order_id`` or its metadata's ``payment_order_key`` (as the shops'
  Stripe integrations set it). ``message`` (Telegram) from a chat in ``telegram_links``
  (chat ID → contact email) → a note (``POST /crm/v3/objects/notes``: ``hs_note_body``,
  ``hs_timestamp``, ``external_id_property`` = the canonical message ID) associated with
  that contact (type 202), after a search finds no note with that ID and finds the
  contact by email (not there yet: retried). Payments without an order or a mapped
  status, messages of unlinked chats, and other families are not wanted (a payment
  without an order is logged as unlinked).
- **Batches.** Concurrent ``apply`` calls are coalesced
  (:class:`~connectors.batching.MicroBatcher`) into ``POST
  /crm/v3/objects/{type}/batch/upsert`` requests of at most 100 inputs, ``idProperty`` per
  input. A 207's per-input ``errors`` fail their own changes only (permanent, with
  HubSpot's message); a whole-batch 400 is split in halves and sent again until the
  invalid input stands alone, so one bad contact never fails 99 good ones.
- **Idempotency.** Upserts by a unique property and stage ``PATCH``es are natural
  idempotent writes: a repeat writes the same values. A note is searched by its message
  ID before it is created, so a redelivered message adds no second note. The idempotency
  key goes along as ``objectWriteTraceId``; associations use the idempotent
  ``PUT …/associations/default``.
- **Auth.** ``Authorization: Bearer``: a private-app token, or an OAuth access token
  (:mod:`connectors.oauth`: refreshed ahead of expiry and once more on a 401; the
  rotated refresh token is stored in PostgreSQL before use).
- **Statuses.** 2xx applied (207 per input). 429 retriable: ``TEN_SECONDLY_ROLLING``
  after 10 s, ``DAILY`` after an hour, and the shared budget held back as long; 423
  (locked) after ≥ 2 s; 477 (migration) after its ``Retry-After``; 408, 5xx incl.
  521/523/524 retriable; 404 on a stage change retriable (the order's deal may not be
  there yet); any other 4xx permanent with HubSpot's ``category`` and ``message``.
- **Rate limits.** ``X-HubSpot-RateLimit-Remaining`` / ``-Interval-Milliseconds`` of
  every answer adjust the shared budget (:mod:`connectors.ratelimit`).
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from functools import partial
from typing import Annotated, Any, Literal
from urllib.parse import quote

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from connectors.batching import MicroBatcher
from connectors.destinations.base import (
    Applied,
    Change,
    DestinationConfig,
    DestinationContext,
    DestinationSpec,
    PeopleBothWays,
)
from connectors.errors import (
    DeliveryError,
    PermanentError,
    RetriableError,
)
from connectors.http import HttpClient, HttpResponse
from connectors.hubspot_answers import Input, Upserted, batch_outcomes, vendor_error
from connectors.oauth import OAuthGrant, OAuthTokens
from hookline.logs import get_logger
from schemas.currency import major_units
from schemas.events import CloudEvent, Customer, Message, Order, Payment

log = get_logger("hookline.connectors.hubspot")

_SOURCE_PREFIX = "/hookline/"
MAX_BATCH = 100  # HubSpot's maxItems for batch inputs
NOTE_TO_CONTACT = 202  # HubSpot-defined association type: note -> contact


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class PrivateAppAuth(_Model):
    type: Literal["private_app"] = "private_app"
    token: SecretStr = Field(description="The private app's access token.")


class OAuthAuth(_Model):
    type: Literal["oauth"] = "oauth"
    client_id: str = Field(description="The app's client ID.")
    client_secret: SecretStr = Field(description="The app's client secret.")
    refresh_token: SecretStr = Field(
        description="Refresh token of the installation; seeds the rotated chain kept in "
        "PostgreSQL (a new one here replaces it)."
    )
    credential: str | None = Field(
        None, description="Row in oauth_tokens; default the connector's name."
    )
    token_url: str | None = Field(None, description="Default {base_url}/oauth/v1/token.")
    refresh_margin_seconds: float = Field(
        300.0, ge=0, description="Refresh this long before the access token expires."
    )


_DEFAULT_ORDER_STAGES = {
    "open": "appointmentscheduled",
    "pending": "appointmentscheduled",
    "partially_paid": "contractsent",
    "paid": "closedwon",
    "fulfilled": "closedwon",
    "partially_refunded": "closedwon",
    "refunded": "closedlost",
    "cancelled": "closedlost",
}


class HubSpotConfig(DestinationConfig):
    type: Literal["hubspot"] = "hubspot"
    base_url: str = Field("https://api.hubapi.com", pattern=r"^https?://", description="API root.")
    auth: Annotated[PrivateAppAuth | OAuthAuth, Field(discriminator="type")] = Field(
        description="private_app (token) or oauth (client id/secret, refresh token)."
    )
    contact_id_property: str = Field("email", description="Unique property of contacts.")
    external_id_property: str = Field(
        "hookline_external_id",
        description="Unique custom property of companies and deals holding Hookline's ID.",
    )
    deal_pipeline: str = Field("default", description="Pipeline of the deals created.")
    order_stages: dict[str, str] = Field(
        default_factory=lambda: dict(_DEFAULT_ORDER_STAGES),
        description="Canonical order status -> deal stage ID; unmapped: stage left alone.",
    )
    payment_stages: dict[str, str] = Field(
        default_factory=lambda: {"succeeded": "closedwon", "refunded": "closedlost"},
        description="Canonical payment status -> deal stage ID of the payment's order.",
    )
    payment_order_key: str = Field(
        "order_id", description="Payment metadata key naming the order (the shop's ID)."
    )
    payment_order_system: str = Field(
        "shopify", description="System of that ID: the deal is '{system}:{value}'."
    )
    batch_window_seconds: float = Field(
        0.005, ge=0, le=1, description="How long a batch waits for more changes."
    )
    batch_size: int = Field(MAX_BATCH, ge=1, le=MAX_BATCH, description="Inputs per batch.")
    ignore_sources: tuple[str, ...] = Field(
        (), description="Source names whose events are not pushed (echo suppression)."
    )
    telegram_links: dict[str, str] = Field(
        default_factory=dict,
        description="Telegram chat ID -> email of the HubSpot contact it belongs to: the "
        "chat's messages become notes on that contact.",
    )


class _StaticToken:
    def __init__(self, token: SecretStr) -> None:
        self._token = token

    async def access_token(self) -> str:
        return self._token.get_secret_value()

    def refused(self, token: str) -> None:
        """A private-app token cannot be refreshed: the 401 stands."""


class HubSpot(PeopleBothWays):
    def __init__(self, config: HubSpotConfig, http: HttpClient, tokens: Any) -> None:
        self._config = config
        self._http = http
        self.ignore_sources = config.ignore_sources
        self._tokens: _StaticToken | OAuthTokens = tokens
        self._base = config.base_url.rstrip("/")
        self._batchers = {
            kind: MicroBatcher[Input, Upserted](
                partial(self._send_batch, kind),
                max_size=config.batch_size,
                window_seconds=config.batch_window_seconds,
                key=Input.key,
            )
            for kind in ("contacts", "companies", "deals")
        }

    # --- the destination contract --------------------------------------------------------

    def wants(self, event: CloudEvent) -> bool:
        if event.source.removeprefix(_SOURCE_PREFIX) in self._config.ignore_sources:
            return False
        data = event.data
        if isinstance(data, Payment):
            if self._deal_of(data) is None:
                log.info("payment unlinked: no order to move", entity=event.subject)
                return False
            return data.status in self._config.payment_stages
        if isinstance(data, Message):
            return bool(data.text) and data.chat_id in self._config.telegram_links
        return isinstance(data, Customer | Order)

    def state_for(self, event: CloudEvent) -> dict[str, Any]:
        data = event.data
        if isinstance(data, Customer):
            return self._contact_state(data)
        if isinstance(data, Order):
            return self._deal_state(data)
        if isinstance(data, Payment):
            return {
                "@deal": self._deal_of(data),
                "dealstage": self._config.payment_stages.get(data.status),
            }
        if isinstance(data, Message):
            return self._note_state(data)
        raise ValueError(f"hubspot does not take {event.family} changes")

    async def apply(self, change: Change, idempotency_key: str) -> Applied:
        state = change.state
        if change.family == "payment":
            response = await self._patch_deal(str(state["@deal"]), _properties(state))
            return Applied(rate_limit=response.rate_limit)
        if change.family == "customer":
            return await self._apply_customer(state, idempotency_key)
        if change.family == "order":
            return await self._apply_order(state, idempotency_key)
        if change.family == "message":
            return await self._apply_note(state)
        raise PermanentError(f"hubspot does not take {change.family} changes")

    async def probe(self) -> None:
        """``GET /crm/v3/objects/contacts?limit=1``: one read with the connector's token."""
        await self._call("GET", "/crm/v3/objects/contacts?limit=1", None)

    # --- mapping -------------------------------------------------------------------------

    def _contact_state(self, customer: Customer) -> dict[str, Any]:
        first, last = customer.first_name, customer.last_name
        if customer.name and not (first or last):
            first, _, last = customer.name.partition(" ")
        address = customer.address
        by = self._config.contact_id_property
        state: dict[str, Any] = {
            "@id": customer.email if by == "email" else customer.id,
            "email": customer.email,
            "firstname": first,
            "lastname": last or None,
            "phone": customer.phone,
            "company": customer.company,
            "address": address.line1 if address else None,
            "city": address.city if address else None,
            "state": address.region if address else None,
            "zip": address.postal_code if address else None,
            "country": address.country if address else None,
            "@company": customer.company,
        }
        if by != "email":
            state[by] = customer.id
        return state

    def _deal_state(self, order: Order) -> dict[str, Any]:
        total = order.total
        return {
            "@id": order.id,
            self._config.external_id_property: order.id,
            "dealname": f"Order {order.number or order.id}",
            "amount": str(major_units(total.amount_minor, total.currency)) if total else None,
            "deal_currency_code": total.currency if total else None,
            "pipeline": self._config.deal_pipeline,
            "dealstage": self._config.order_stages.get(order.status),
            "@contact": order.customer.email if order.customer else None,
        }

    def _note_state(self, message: Message) -> dict[str, Any]:
        sender = message.sender
        who = f"chat {message.chat_id}"
        if sender is not None and (sender.username or sender.display_name):
            who = f"@{sender.username}" if sender.username else str(sender.display_name)
        sent = message.sent_at or message.updated_at
        return {
            "@contact": self._config.telegram_links[str(message.chat_id)],
            self._config.external_id_property: message.id,
            "hs_note_body": f"Telegram message from {who}: {message.text}",
            "hs_timestamp": sent.astimezone(UTC).isoformat(timespec="milliseconds"),
        }

    def _deal_of(self, payment: Payment) -> str | None:
        if payment.order_id:
            return payment.order_id
        value = payment.metadata.get(self._config.payment_order_key)
        if not value:
            return None
        system = self._config.payment_order_system
        return value if value.startswith(f"{system}:") else f"{system}:{value}"

    # --- per family ----------------------------------------------------------------------

    async def _apply_customer(self, state: Mapping[str, Any], key: str) -> Applied:
        if not state.get("@id"):
            raise PermanentError("customer has no email: a contact cannot be upserted")
        contact = await self._upsert("contacts", str(state["@id"]), _properties(state), key)
        company_name = state.get("@company")
        if not company_name:
            return Applied(rate_limit=contact.rate_limit)
        external = f"company:{str(company_name).strip().lower()}"
        props = {"name": str(company_name), self._config.external_id_property: external}
        company = await self._upsert("companies", external, props, key)
        response = await self._associate("contacts", contact.id, "companies", company.id)
        return Applied(rate_limit=response.rate_limit)

    async def _apply_order(self, state: Mapping[str, Any], key: str) -> Applied:
        deal = await self._upsert("deals", str(state["@id"]), _properties(state), key)
        email = state.get("@contact")
        if not email:
            return Applied(rate_limit=deal.rate_limit)
        contact = await self._upsert("contacts", str(email), {"email": str(email)}, key)
        response = await self._associate("deals", deal.id, "contacts", contact.id)
        return Applied(rate_limit=response.rate_limit)

    async def _apply_note(self, state: Mapping[str, Any]) -> Applied:
        """Search before create: a note whose external ID is the message's exists once."""
        by = self._config.external_id_property
        found = await self._search("notes", by, str(state[by]))
        if found is not None:
            return Applied(rate_limit=found[1].rate_limit)
        email = str(state["@contact"])
        contact = await self._search("contacts", "email", email)
        if contact is None:  # linked, but not in HubSpot yet: flow 2 may be creating it
            raise RetriableError(f"no contact with the linked chat's email {email}", status=404)
        association = {"to": {"id": contact[0]},
                       "types": [{"associationCategory": "HUBSPOT_DEFINED",
                                  "associationTypeId": NOTE_TO_CONTACT}]}  # fmt: skip
        body = {"properties": _properties(state), "associations": [association]}
        response = await self._call("POST", "/crm/v3/objects/notes", body)
        return Applied(rate_limit=response.rate_limit)

    # --- calls ---------------------------------------------------------------------------

    async def _search(self, kind: str, prop: str, value: str) -> tuple[str, HttpResponse] | None:
        """The first record of ``kind`` whose ``prop`` equals ``value`` (its ID), or None."""
        rule = {"propertyName": prop, "operator": "EQ", "value": value}
        body = {"filterGroups": [{"filters": [rule]}], "limit": 1, "properties": [prop]}
        response = await self._call("POST", f"/crm/v3/objects/{kind}/search", body)
        results = (response.json() or {}).get("results") or []
        return (str(results[0]["id"]), response) if results else None

    async def _upsert(
        self, kind: str, id_value: str, properties: Mapping[str, str], key: str
    ) -> Upserted:
        by = self._config.contact_id_property if kind == "contacts" else None
        id_property = by or self._config.external_id_property
        return await self._batchers[kind].submit(
            Input(kind, id_value, id_property, properties, key)
        )

    async def _send_batch(self, kind: str, inputs: list[Input]) -> list[Upserted | BaseException]:
        body = {
            "inputs": [
                {
                    "id": i.id,
                    "idProperty": i.id_property,
                    "properties": dict(i.properties),
                    "objectWriteTraceId": i.trace,
                }
                for i in inputs
            ]
        }
        try:
            response = await self._call("POST", f"/crm/v3/objects/{kind}/batch/upsert", body)
        except PermanentError as error:
            if error.status != 400 or len(inputs) < 2:
                raise
            # A whole batch refused for one input: halve until the culprit stands alone.
            half = len(inputs) // 2
            first = await self._send_halves(kind, inputs[:half])
            return first + await self._send_halves(kind, inputs[half:])
        return batch_outcomes(inputs, response)

    async def _send_halves(self, kind: str, inputs: list[Input]) -> list[Upserted | BaseException]:
        try:
            return await self._send_batch(kind, inputs)
        except DeliveryError as error:
            return [error] * len(inputs)

    async def _associate(
        self, from_type: str, from_id: str, to_type: str, to_id: str
    ) -> HttpResponse:
        path = f"/crm/v4/objects/{from_type}/{from_id}/associations/default/{to_type}/{to_id}"
        return await self._call("PUT", path, None)

    async def _patch_deal(self, external_id: str, properties: Mapping[str, str]) -> HttpResponse:
        path = (
            f"/crm/v3/objects/deals/{quote(external_id, safe='')}"
            f"?idProperty={quote(self._config.external_id_property)}"
        )
        try:
            return await self._call("PATCH", path, {"properties": dict(properties)})
        except PermanentError as error:
            if error.status == 404:  # the order's deal is not there yet: try again later
                raise RetriableError(
                    f"deal {external_id} not found", status=404, body=error.body
                ) from None
            raise

    async def _call(self, method: str, path: str, body: Any) -> HttpResponse:
        """One authorised call; a 401 under OAuth refreshes and tries once more."""
        url = f"{self._base}{path}"
        token = await self._tokens.access_token()
        try:
            return await self._send(method, url, body, token)
        except PermanentError as error:
            if error.status != 401 or not isinstance(self._tokens, OAuthTokens):
                raise
            self._tokens.refused(token)
        return await self._send(method, url, body, await self._tokens.access_token())

    async def _send(self, method: str, url: str, body: Any, token: str) -> HttpResponse:
        headers = {"Authorization": f"Bearer {token}"}
        try:
            return await self._http.request(method, url, json=body, headers=headers)
        except DeliveryError as error:
            raise vendor_error(error) from None


def _properties(state: Mapping[str, Any]) -> dict[str, str]:
    """HubSpot's properties: strings; unknown (None) ones and our ``@`` hints left out."""
    return {k: str(v) for k, v in state.items() if v is not None and not k.startswith("@")}


def create(config: HubSpotConfig, context: DestinationContext) -> HubSpot:
    auth = config.auth
    if isinstance(auth, PrivateAppAuth):
        return HubSpot(config, context.http, _StaticToken(auth.token))
    grant = OAuthGrant(
        credential=auth.credential or context.connector,
        token_url=auth.token_url or f"{config.base_url.rstrip('/')}/oauth/v1/token",
        client_id=auth.client_id,
        client_secret=auth.client_secret,
        refresh_token=auth.refresh_token,
        margin_seconds=auth.refresh_margin_seconds,
    )
    return HubSpot(config, context.http, OAuthTokens(grant, context.pool, context.http))


SPEC = DestinationSpec(
    name="hubspot",
    config_model=HubSpotConfig,
    create=create,
    # 423 locked, 477 migration in progress, Cloudflare's 521/523/524 (DESTINATIONS.md)
    extra_retriable=frozenset({423, 477, 521, 523, 524}),
)
