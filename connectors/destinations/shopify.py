"""Shopify (Admin GraphQL API): customers, order payments and refunds, order tags and
metafields, inventory.

- **Endpoint.** ``POST {base_url}/admin/api/{api_version}/graphql.json`` with
  ``X-Shopify-Access-Token``. IDs are global IDs (``gid://shopify/Order/1``): canonical
  IDs (``shopify:1``), a bare shop number from metadata and InventoryLevel IDs are turned
  into them here; a value that cannot be (another system's order) is not wanted.
- **Mapping.** ``customer`` (with an email) → ``customerSet(identifier: {email}, input)``:
  an upsert by email of email, first/last name and phone (omitted fields left alone). A
  partial customer (e.g. one HubSpot property change) is merged by the runner onto what was
  applied for it before; while no email is known for it nothing is sent.
  ``payment`` linked to an order (its ``order_id``, or its metadata's
  ``payment_order_key``, e.g. ``metadata.order_id`` as the shops' Stripe integrations set
  it): ``succeeded`` → ``orderMarkAsPaid`` (while the order ``canMarkAsPaid``) and
  ``tagsAdd(paid_tags)``; ``refunded``/``partially_refunded`` → a line appended to the
  order's note (``orderUpdate``) and ``tagsAdd(refund_tags)``. ``order`` (a Shopify
  order) → ``tagsAdd(order_tags + order_status_tags[status])`` and ``metafieldsSet`` of
  ``order_metafields`` (≤ 25, namespace ``metafield_namespace``). ``product`` inventory
  levels → ``inventoryAdjustQuantities``: the current quantity is read, the delta to the
  snapshot's ``available`` sent with ``changeFromQuantity`` = what was read (a
  compare-and-swap: a quantity changed in between is retried after a fresh read).
- **Unlinked payments.** A payment naming no Shopify order is not wanted: it is logged
  (``payment unlinked``) and counted in :attr:`Shopify.unlinked`; other destinations
  (the warehouse) still receive it.
- **Idempotency.** ``customerSet`` by email, ``tagsAdd``, ``metafieldsSet`` and
  ``orderUpdate`` are natural upserts; ``orderMarkAsPaid`` is only sent while the order
  can be marked paid, and a refund line only when the note lacks it, so a repeat writes
  nothing. ``inventoryAdjustQuantities`` carries ``@idempotent(key:)`` (API ≥ 2026-01;
  required from 2026-04) with the change's idempotency key.
- **Errors.** HTTP 401/other 4xx permanent; 429, 5xx, timeouts retriable (``Retry-After``
  honoured) by :mod:`connectors.errors`. HTTP 200 with ``errors[].extensions.code ==
  THROTTLED`` → retriable after ``(requestedQueryCost - currentlyAvailable) /
  restoreRate`` seconds, reported as the 429 it stands for (the budget is held back; the
  breaker does not count it); other top-level errors (validation, invalid global ID)
  permanent with Shopify's messages; ``userErrors`` permanent with each message and field
  path, except a stale ``changeFromQuantity`` (retriable).
- **Rate budget.** After every call ``extensions.cost.throttleStatus`` feeds the shared
  budget (:mod:`connectors.ratelimit`, whose unit is one call). One call is counted as
  ``points_per_call`` points (10: Shopify's cost of a mutation); the budget is told
  ``(currentlyAvailable - reserve_points) // points_per_call`` calls remain, so it stops
  callers while ``reserve_points`` are still in Shopify's bucket, and below that it holds
  every instance back until the bucket has restored enough. Configure the connector's
  ``rate_limit.requests_per_second`` as ``restoreRate / points_per_call`` (10 on the
  Standard plan).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any, Literal

import orjson
from pydantic import Field, SecretStr

from connectors.destinations.base import (
    Applied,
    Change,
    DestinationConfig,
    DestinationContext,
    DestinationSpec,
    PeopleBothWays,
)
from connectors.errors import PermanentError, RateLimitHint, RetriableError
from connectors.http import HttpClient
from hookline.logs import get_logger
from schemas.currency import major_units
from schemas.events import CloudEvent, Customer, Order, Payment, Product

log = get_logger("hookline.connectors.shopify")

_SOURCE_PREFIX = "/hookline/"
_NUMBER = re.compile(r"^#?([1-9][0-9]*)$")
MAX_METAFIELDS = 25  # metafieldsSet's documented maximum
IDEMPOTENT_FROM = "2026-01"  # first API version with @idempotent on inventory mutations
RETRIABLE_CODES = frozenset({"THROTTLED", "INTERNAL_SERVER_ERROR"})
STALE_CODES = frozenset({"CHANGE_FROM_QUANTITY_STALE"})

_ORDER = "query($id: ID!) { order(id: $id) { id canMarkAsPaid note tags } }"
_CUSTOMER_SET = """mutation($identifier: CustomerSetIdentifiers, $input: CustomerSetInput!) {
  customerSet(identifier: $identifier, input: $input) {
    customer { id } userErrors { code field message } } }"""
_ORDER_WRITES = {
    "markPaid": ("orderMarkAsPaid(input: {id: $id})", "userErrors { field message }"),
    "note": ("orderUpdate(input: {id: $id, note: $note})", "userErrors { field message }"),
    "tags": ("tagsAdd(id: $id, tags: $tags)", "userErrors { field message }"),
    "metafields": ("metafieldsSet(metafields: $metafields)", "userErrors { code field message }"),
}
_VARIABLE_TYPES = {"note": "$note: String", "tags": "$tags: [String!]!",
                   "metafields": "$metafields: [MetafieldsSetInput!]!"}  # fmt: skip


class ShopifyConfig(DestinationConfig):
    type: Literal["shopify"] = "shopify"
    base_url: str = Field(
        pattern=r"^https?://", description="The shop's root: https://{shop}.myshopify.com."
    )
    api_version: str = Field(
        "2026-04", pattern=r"^(\d{4}-\d{2}|unstable)$", description="Admin API version."
    )
    access_token: SecretStr = Field(description="Admin API access token (secret:<name>).")
    order_system: str = Field("shopify", description="System prefix of Shopify's order IDs.")
    payment_order_key: str = Field(
        "order_id", description="Payment metadata key naming the Shopify order."
    )
    paid_tags: tuple[str, ...] = Field(
        ("paid-via-stripe",), description="Tags added to an order its payment succeeded for."
    )
    refund_tags: tuple[str, ...] = Field(
        ("refunded-via-stripe",), description="Tags added to an order refunded."
    )
    order_tags: tuple[str, ...] = Field((), description="Tags added to every order pushed.")
    order_status_tags: dict[str, str] = Field(
        default_factory=dict, description="Canonical order status -> tag added."
    )
    order_metafields: tuple[str, ...] = Field(
        (),
        max_length=MAX_METAFIELDS,
        description="Canonical order fields written as metafields (status, total, …).",
    )
    metafield_namespace: str = Field("hookline", description="Namespace of those metafields.")
    inventory_location_id: str | None = Field(
        None, description="Location of inventory levels that name none (number or gid)."
    )
    inventory_reason: str = Field("correction", description="Reason of inventory adjustments.")
    points_per_call: float = Field(10.0, gt=0, description="Cost points one call is counted as.")
    reserve_points: float = Field(
        100.0, ge=0, description="Points left in Shopify's bucket when the budget stops."
    )
    ignore_sources: tuple[str, ...] = Field(
        (), description="Source names whose events are not pushed (echo suppression)."
    )


class Shopify(PeopleBothWays):
    def __init__(self, config: ShopifyConfig, http: HttpClient) -> None:
        self._config = config
        self._http = http
        self.ignore_sources = config.ignore_sources
        self._url = f"{config.base_url.rstrip('/')}/admin/api/{config.api_version}/graphql.json"
        self.unlinked = 0  # payments seen without a Shopify order to update

    # --- the destination contract --------------------------------------------------------

    def wants(self, event: CloudEvent) -> bool:
        if event.source.removeprefix(_SOURCE_PREFIX) in self._config.ignore_sources:
            return False
        data = event.data
        if isinstance(data, Customer):
            # A partial change (a CRM's one property) carries no email; the runner merges
            # it onto this entity's state applied before, which may know the email.
            return bool(data.email) or data.partial
        if isinstance(data, Payment):
            return self._wants_payment(data, event.subject)
        if isinstance(data, Order):
            return self._order_gid(data.id) is not None
        if isinstance(data, Product):
            return bool(self._levels(data))
        return False

    def state_for(self, event: CloudEvent) -> dict[str, Any]:
        data = event.data
        if isinstance(data, Customer):
            return _customer_input(data)
        if isinstance(data, Payment):
            return self._payment_state(data)
        if isinstance(data, Order):
            return self._order_state(data)
        if isinstance(data, Product):
            return {"levels": self._levels(data)}
        raise ValueError(f"shopify does not take {event.family} changes")

    async def apply(self, change: Change, idempotency_key: str) -> Applied:
        state = change.state
        if change.family == "customer":
            if not state.get("email"):  # kept as applied: pushed once its email is known
                log.info("customer not pushed yet: no email known", entity=change.entity_key)
                return Applied()
            variables = {"identifier": {"email": state["email"]}, "input": dict(state)}
            return Applied(rate_limit=(await self._call(_CUSTOMER_SET, variables))[1])
        if change.family == "payment":
            return await self._apply_payment(state)
        if change.family == "order":
            writes = {"tags": state["tags"], "metafields": state["metafields"]}
            return await self._write_order(str(state["order"]), writes)
        if change.family == "product":
            return await self._apply_inventory(state["levels"], idempotency_key)
        raise PermanentError(f"shopify does not take {change.family} changes")

    # --- mapping -------------------------------------------------------------------------

    def _wants_payment(self, payment: Payment, subject: str) -> bool:
        if payment.status not in ("succeeded", "refunded", "partially_refunded"):
            return False
        if self._payment_order(payment) is None:
            self.unlinked += 1
            log.info("payment unlinked: no Shopify order to update", entity=subject)
            return False
        return True

    def _payment_order(self, payment: Payment) -> str | None:
        if payment.order_id and (found := self._order_gid(payment.order_id)):
            return found
        value = payment.metadata.get(self._config.payment_order_key, "").strip()
        return self._order_gid(value) or self._order_gid(f"{self._config.order_system}:{value}")

    def _order_gid(self, value: str) -> str | None:
        if value.startswith("gid://shopify/Order/"):
            return value
        system, _, number = value.partition(":")
        match = _NUMBER.match(number)
        ok = system == self._config.order_system and match is not None
        return f"gid://shopify/Order/{match[1]}" if ok and match else None

    def _payment_state(self, payment: Payment) -> dict[str, Any]:
        refunded = payment.amount_refunded or payment.amount
        note = None
        if payment.status != "succeeded" and refunded is not None:
            amount = major_units(refunded.amount_minor, refunded.currency)
            note = f"Refunded {amount} {refunded.currency} ({payment.id})"
        return {"order": self._payment_order(payment), "status": payment.status, "note": note}

    def _order_state(self, order: Order) -> dict[str, Any]:
        tags = [*self._config.order_tags]
        if (status_tag := self._config.order_status_tags.get(order.status)) is not None:
            tags.append(status_tag)
        values = order.model_dump(mode="json")
        metafields = []
        for name in self._config.order_metafields:
            value = values.get(name)
            if isinstance(value, dict) and {"amount_minor", "currency"} <= value.keys():
                value = (
                    f"{major_units(value['amount_minor'], value['currency'])} {value['currency']}"
                )
            if value is not None:
                metafields.append(
                    {"namespace": self._config.metafield_namespace, "key": name,
                     "value": str(value), "type": "single_line_text_field"}
                )  # fmt: skip
        return {"order": self._order_gid(order.id), "tags": tags, "metafields": metafields}

    def _levels(self, product: Product) -> list[dict[str, Any]]:
        levels = []
        for level in product.inventory:
            item = _gid("InventoryItem", level.inventory_item_id)
            location = _gid("Location", level.location_id or self._config.inventory_location_id)
            if item and location and level.available is not None:
                levels.append({"item": item, "location": location, "available": level.available})
        return levels

    # --- per family ----------------------------------------------------------------------

    async def _apply_payment(self, state: Mapping[str, Any]) -> Applied:
        order_id = str(state["order"])
        data, hint = await self._call(_ORDER, {"id": order_id})
        order = data.get("order")
        if order is None:  # the order may not have reached the shop yet
            raise RetriableError(f"shopify order {order_id} not found", rate_limit=hint)
        writes: dict[str, Any] = {}
        if state["status"] == "succeeded":
            writes["markPaid"] = bool(order.get("canMarkAsPaid"))
            writes["tags"] = list(self._config.paid_tags)
        else:
            note, line = order.get("note") or "", state.get("note")
            if line and line not in note:
                writes["note"] = f"{note}\n{line}".strip()
            writes["tags"] = list(self._config.refund_tags)
        existing = set(order.get("tags") or ())
        writes["tags"] = [t for t in writes["tags"] if t not in existing]
        applied = await self._write_order(order_id, writes)
        return applied if applied.rate_limit is not None else Applied(rate_limit=hint)

    async def _write_order(self, order_id: str, writes: Mapping[str, Any]) -> Applied:
        """One mutation document holding each wanted write (empty values left out)."""
        wanted = {name: value for name, value in writes.items() if value}
        if not wanted:
            return Applied()
        variables: dict[str, Any] = {"id": order_id}
        declared, fields = ["$id: ID!"], []
        for name, value in wanted.items():
            call, selection = _ORDER_WRITES[name]
            fields.append(f"{name}: {call} {{ {selection} }}")
            if name in _VARIABLE_TYPES:
                declared.append(_VARIABLE_TYPES[name])
                variables[name] = (
                    [{**m, "ownerId": order_id} for m in value] if name == "metafields" else value
                )
        document = f"mutation({', '.join(declared)}) {{ {' '.join(fields)} }}"
        return Applied(rate_limit=(await self._call(document, variables))[1])

    async def _apply_inventory(self, levels: list[dict[str, Any]], key: str) -> Applied:
        reads = " ".join(
            f'l{i}: inventoryItem(id: "{lv["item"]}") {{ inventoryLevel(locationId: '
            f'"{lv["location"]}") {{ quantities(names: ["available"]) {{ quantity }} }} }}'
            for i, lv in enumerate(levels)
        )
        data, hint = await self._call(f"query {{ {reads} }}", {})
        changes = []
        for i, level in enumerate(levels):
            stocked = (data.get(f"l{i}") or {}).get("inventoryLevel")
            if stocked is None:
                raise PermanentError(f"{level['item']} is not stocked at {level['location']}")
            current = int(stocked["quantities"][0]["quantity"])
            if level["available"] != current:
                changes.append(
                    {"delta": level["available"] - current, "changeFromQuantity": current,
                     "inventoryItemId": level["item"], "locationId": level["location"]}
                )  # fmt: skip
        if not changes:
            return Applied(rate_limit=hint)
        idempotent = (
            " @idempotent(key: $key)" if self._config.api_version >= IDEMPOTENT_FROM else ""
        )
        document = (
            "mutation($input: InventoryAdjustQuantitiesInput!, $key: String!) { "
            f"inventoryAdjustQuantities(input: $input){idempotent} "
            "{ userErrors { code field message } } }"
        )
        if not idempotent:
            document = document.replace(", $key: String!", "")
        variables: dict[str, Any] = {
            "input": {
                "reason": self._config.inventory_reason,
                "name": "available",
                "changes": changes,
            }
        }
        if idempotent:
            variables["key"] = key
        return Applied(rate_limit=(await self._call(document, variables))[1])

    async def probe(self) -> None:
        """``{ shop { name } }``: query cost 1, read-only."""
        await self._call("query HooklineProbe { shop { name } }", {})

    # --- the call ------------------------------------------------------------------------

    async def _call(
        self, document: str, variables: Mapping[str, Any]
    ) -> tuple[dict[str, Any], RateLimitHint | None]:
        """Send one document; return its ``data`` and the budget hint, or raise."""
        headers = {"X-Shopify-Access-Token": self._config.access_token.get_secret_value()}
        response = await self._http.request(
            "POST",
            self._url,
            json={"query": document, "variables": dict(variables)},
            headers=headers,
        )
        body = response.json()
        if not isinstance(body, dict):
            raise PermanentError("shopify answered no JSON object", status=response.status)
        cost = (body.get("extensions") or {}).get("cost") or {}
        hint = budget_hint(cost, self._config.points_per_call, self._config.reserve_points)
        raise_for_errors(body, cost, hint, response.status)
        data = body.get("data") or {}
        raise_for_user_errors(data, hint, response.status)
        return data, hint


def budget_hint(
    cost: Mapping[str, Any], points_per_call: float, reserve_points: float
) -> RateLimitHint | None:
    """What ``throttleStatus`` means for the shared budget, in calls (see the docstring)."""
    status = cost.get("throttleStatus") or {}
    try:
        available = float(status["currentlyAvailable"])
        restore = float(status["restoreRate"])
        maximum = float(status["maximumAvailable"])
    except (KeyError, TypeError, ValueError):
        return None
    if restore <= 0:
        return None
    reset = max(0.0, maximum - available) / restore
    spare = available - reserve_points
    if spare >= points_per_call:
        return RateLimitHint(remaining=spare // points_per_call, reset_seconds=reset)
    wait = (points_per_call - spare) / restore  # until one call fits above the reserve
    return RateLimitHint(remaining=0, reset_seconds=reset, retry_after=wait)


def raise_for_errors(
    body: Mapping[str, Any], cost: Mapping[str, Any], hint: RateLimitHint | None, status: int
) -> None:
    """Top-level GraphQL ``errors``: THROTTLED retriable after the deficit is restored."""
    errors = [e for e in body.get("errors") or () if isinstance(e, dict)]
    if not errors:
        return
    codes = {str((e.get("extensions") or {}).get("code")) for e in errors}
    message = "shopify: " + "; ".join(str(e.get("message")) for e in errors)
    text = orjson.dumps(errors).decode()
    if "THROTTLED" in codes:
        throttle = cost.get("throttleStatus") or {}
        requested = float(cost.get("requestedQueryCost") or 0)
        available = float(throttle.get("currentlyAvailable") or 0)
        restore = float(throttle.get("restoreRate") or 0)
        wait = max(0.0, requested - available) / restore if restore > 0 else 1.0
        limit = RateLimitHint(remaining=0, reset_seconds=wait, retry_after=wait)
        # Reported as the 429 it stands for: the runner holds the budget back, and the
        # breaker does not count a rate limit as a failing destination.
        raise RetriableError(message, retry_after=wait, status=429, body=text, rate_limit=limit)
    if codes & RETRIABLE_CODES:
        raise RetriableError(message, status=status, body=text, rate_limit=hint)
    raise PermanentError(message, status=status, body=text, rate_limit=hint)


def raise_for_user_errors(data: Mapping[str, Any], hint: RateLimitHint | None, status: int) -> None:
    """``userErrors`` of any mutation in ``data``: permanent, with messages and fields."""
    found = []
    for name, payload in data.items():
        for error in (payload or {}).get("userErrors") or () if isinstance(payload, dict) else ():
            field = ".".join(str(f) for f in error.get("field") or ())
            code = f" ({error['code']})" if error.get("code") else ""
            found.append((name, field, f"{error.get('message')}{code}", error.get("code")))
    if not found:
        return
    message = "shopify: " + "; ".join(
        f"{n}: {f}: {m}" if f else f"{n}: {m}" for n, f, m, _ in found
    )
    body = orjson.dumps(
        [{"mutation": n, "field": f, "message": m} for n, f, m, _ in found]
    ).decode()
    if all(code in STALE_CODES for *_, code in found):
        raise RetriableError(message, status=status, body=body, rate_limit=hint)
    raise PermanentError(message, status=status, body=body, rate_limit=hint)


def _customer_input(customer: Customer) -> dict[str, Any]:
    first, last = customer.first_name, customer.last_name
    if customer.name and not (first or last):
        first, _, last = customer.name.partition(" ")
    values = {"email": customer.email, "firstName": first, "lastName": last or None,
              "phone": customer.phone}  # fmt: skip
    return {k: v for k, v in values.items() if v is not None}  # unknown: left alone


def _gid(kind: str, value: str | None) -> str | None:
    """A global ID from a gid, ``shopify:N``/``shopify:{kind}:N`` or a bare number."""
    if not value:
        return None
    if value.startswith(f"gid://shopify/{kind}/"):
        return value
    match = _NUMBER.match(value.rsplit(":", 1)[-1])
    return f"gid://shopify/{kind}/{match[1]}" if match else None


def create(config: ShopifyConfig, context: DestinationContext) -> Shopify:
    return Shopify(config, context.http)


SPEC = DestinationSpec(name="shopify", config_model=ShopifyConfig, create=create)
