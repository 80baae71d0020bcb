"""The stand-in shop's data and the resolvers of :mod:`sandbox.shopify_schema`.

Mutation behaviour follows the Admin GraphQL reference pages of each mutation
(shopify.dev/docs/api/admin-graphql/latest/mutations/…); [?] marks a detail (an exact
message or code) that the reference does not spell out and the stand-in chose:

- IDs are global IDs ``gid://shopify/{Type}/{number}``; anything else (a bare ``1``) is
  a top-level error ``Invalid global id '1'`` [? message] and nothing is written.
- ``customerSet(identifier, input)``: with ``identifier.email``/``phone`` an upsert by
  that key, with ``identifier.id`` an update (``NOT_FOUND`` when absent), without one a
  create (``TAKEN`` when the email exists). An invalid email is
  ``userErrors [{code: INVALID, field: ["input", "email"]}]``. Omitted fields are left
  alone; ``tags`` replaces.
- ``tagsAdd(id, tags)`` adds to an order's or customer's tags (existing ones: no write).
- ``orderUpdate(input: {id, note, tags, email})``: given fields replaced.
- ``orderMarkAsPaid(input: {id})``: only while ``canMarkAsPaid`` (userError otherwise
  [? message]); the order becomes ``PAID``.
- ``metafieldsSet(metafields)``: at most 25 (``LESS_THAN_OR_EQUAL_TO``), atomic (one
  invalid input: nothing set), ``type`` required for a new metafield (``BLANK``).
- ``inventoryAdjustQuantities(input)`` ``@idempotent(key:)``: a key seen before answers
  the first result without adjusting again; from API 2026-04 the directive is required
  (changelog "Making idempotency mandatory…"); a ``changeFromQuantity`` that is not the
  current quantity fails the whole adjustment (compare-and-swap, ``CHANGE_FROM_QUANTITY_
  STALE`` [? code]); ``name`` and ``reason`` from the documented lists.

Every write that changes something counts as one *effective write* of its entity (the
global ID) in :attr:`ShopStore.writes`; a write that changes nothing does not count.
"""

from __future__ import annotations

import base64
import itertools
import re
from collections import Counter
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any

import orjson
from graphql import GraphQLError, GraphQLResolveInfo, get_directive_values

MAX_METAFIELDS = 25
MAX_PAGE = 250
IDEMPOTENCY_REQUIRED_FROM = "2026-04"
QUANTITY_NAMES = frozenset({"available", "damaged", "quality_control", "safety_stock"})
REASONS = frozenset(
    {
        "correction", "cycle_count_available", "damaged", "movement_canceled",
        "movement_created", "movement_received", "movement_updated", "other", "promotion",
        "quality_control", "received", "reservation_created", "reservation_deleted",
        "reservation_updated", "restock", "safety_stock", "shrinkage",
    }
)  # fmt: skip
_GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<number>[1-9][0-9]*)$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_SEARCH = re.compile(r"updated_at:(?P<op>[<>]=?)['\"]?(?P<value>[^'\"\s]+)['\"]?")
Record = dict[str, Any]
Info = GraphQLResolveInfo[Any]  # resolvers get no context value


def gid(kind: str, number: int) -> str:
    return f"gid://shopify/{kind}/{number}"


def check_gid(value: str, *kinds: str) -> str:
    """``value`` when it is a global ID (of one of ``kinds``, when given)."""
    match = _GID.match(value)
    if match is None or (kinds and match["type"] not in kinds):
        raise GraphQLError(
            f"Invalid global id '{value}'", extensions={"code": "argumentLiteralsIncompatible"}
        )
    return value


def _user_error(field: list[str | int], message: str, code: str | None = None) -> Record:
    error: Record = {"field": [str(f) for f in field], "message": message}
    if code is not None:
        error["code"] = code
    return error


class ShopStore:
    """Customers, orders, metafields and inventory levels, and what was written."""

    def __init__(self, clock: Callable[[], datetime] = lambda: datetime.now(UTC)) -> None:
        self.clock = clock
        self.customers_by_id: dict[str, Record] = {}
        self.orders_by_id: dict[str, Record] = {}
        self.metafields: dict[tuple[str, str, str], Record] = {}
        self.inventory: dict[tuple[str, str], int] = {}  # (item, location) -> available
        self.writes: Counter[str] = Counter()  # global ID -> effective writes
        self.idempotent: dict[str, Record] = {}  # @idempotent key -> first result
        self.replays = 0
        self.api_version = ""  # of the request being answered
        self._numbers = itertools.count(1001)

    # --- seeding (the shop owns orders and inventory; Hookline only changes them) -------

    def seed_order(
        self, number: int, *, paid: bool = False, tags: Iterable[str] = (), **fields: Any
    ) -> str:
        """An order in EUR with no line items, or with ``fields`` (schema names) set, e.g.
        ``lineItems=[line_item(1, …)]``, ``customer={…}``, ``totalPriceSet=money("9.90")``."""
        order_id = gid("Order", number)
        now = self._now()
        self.orders_by_id[order_id] = {
            "__typename": "Order", "id": order_id, "name": f"#{number}", "note": None,
            "tags": list(tags), "email": None, "createdAt": now, "updatedAt": now,
            "cancelledAt": None, "displayFinancialStatus": "PAID" if paid else "PENDING",
            "displayFulfillmentStatus": "UNFULFILLED", "currencyCode": "EUR",
            "totalPriceSet": money("0.00"), "subtotalPriceSet": money("0.00"),
            "totalTaxSet": money("0.00"), "customer": None, "shippingAddress": None,
            "customAttributes": [], "lineItems": [], **fields,
        }  # fmt: skip
        return order_id

    def seed_inventory(self, item: int, location: int, available: int) -> tuple[str, str]:
        key = (gid("InventoryItem", item), gid("Location", location))
        self.inventory[key] = available
        return key

    def customer_by_email(self, email: str) -> Record | None:
        return next((c for c in self.customers_by_id.values() if c.get("email") == email), None)

    @property
    def total_writes(self) -> int:
        return sum(self.writes.values())

    def _now(self) -> str:
        # Always with microseconds: isoformat() drops a zero fraction, and such a stamp would
        # sort after the same second's others.
        return self.clock().isoformat(timespec="microseconds").replace("+00:00", "Z")

    def _changed(self, record: Record, values: Record) -> bool:
        """Apply ``values``; count an effective write when something changed."""
        changed = {k: v for k, v in values.items() if record.get(k) != v}
        if changed:
            record.update(changed, updatedAt=self._now())
            self.writes[record["id"]] += 1
        return bool(changed)


class ShopResolvers(ShopStore):
    """The root value: one method per Query/Mutation field (graphql-core's default
    resolver calls ``method(info, **arguments)``)."""

    # --- queries -------------------------------------------------------------------------

    def shop(self, _info: Info) -> Record:
        return {"name": "Hookline stand-in shop"}

    def order(self, _info: Info, id: str) -> Record | None:
        return self._order_view(self.orders_by_id.get(check_gid(id, "Order")))

    def customer(self, _info: Info, id: str) -> Record | None:
        return self.customers_by_id.get(check_gid(id, "Customer"))

    def inventoryItem(self, _info: Info, id: str) -> Record | None:
        item = check_gid(id, "InventoryItem")
        if not any(i == item for i, _ in self.inventory):
            return None

        def level(_info: Info, locationId: str) -> Record | None:
            key = (item, check_gid(locationId, "Location"))
            if key not in self.inventory:
                return None
            amount = self.inventory[key]

            def quantities(_info: Info, names: list[str]) -> list[Record]:
                return [{"name": n, "quantity": amount if n == "available" else 0} for n in names]

            return {"id": f"{item}?location={key[1]}", "quantities": quantities}

        return {"__typename": "InventoryItem", "id": item, "inventoryLevel": level}

    def orders(self, _info: Info, **args: Any) -> Record:
        views = [self._order_view(o) for o in self.orders_by_id.values()]
        return _connection([v for v in views if v is not None], **args)

    def customers(self, _info: Info, **args: Any) -> Record:
        return _connection(list(self.customers_by_id.values()), **args)

    def _order_view(self, order: Record | None) -> Record | None:
        if order is None:
            return None
        can = order["displayFinancialStatus"] in ("PENDING", "AUTHORIZED", "PARTIALLY_PAID")

        def metafield(_info: Info, key: str, namespace: str = "$app") -> Any:
            return self.metafields.get((order["id"], namespace, key))

        def line_items(_info: Info, **args: Any) -> Record:
            return _connection(list(order.get("lineItems", ())), **args)

        return {**order, "canMarkAsPaid": can, "metafield": metafield, "lineItems": line_items}

    # --- mutations -----------------------------------------------------------------------

    def customerSet(self, _info: Info, input: Record, identifier: Record | None = None) -> Record:
        email = input.get("email")
        if email is not None and not _EMAIL.match(email):
            return _payload(
                "customer", [_user_error(["input", "email"], "Email is invalid", "INVALID")]
            )
        found, errors = self._identify(identifier or {}, email)
        if errors:
            return _payload("customer", errors)
        if found is None:
            number = next(self._numbers)
            found = {"__typename": "Customer", "id": gid("Customer", number), "tags": [],
                     "defaultAddress": None, "createdAt": self._now()}  # fmt: skip
            found.update({k: None for k in ("email", "firstName", "lastName", "phone", "note")})
            self.customers_by_id[found["id"]] = found
            if identifier and identifier.get("email") and email is None:
                input = {**input, "email": identifier["email"]}
        self._changed(found, {k: v for k, v in input.items()})
        return {"customer": found, "userErrors": []}

    def _identify(
        self, identifier: Record, email: str | None
    ) -> tuple[Record | None, list[Record]]:
        if identifier.get("id") is not None:
            found = self.customers_by_id.get(check_gid(identifier["id"], "Customer"))
            if found is None:
                return None, [
                    _user_error(["identifier", "id"], "Customer does not exist", "NOT_FOUND")
                ]
            return found, []
        if identifier.get("email") is not None:
            return self.customer_by_email(identifier["email"]), []
        if identifier.get("phone") is not None:
            phone = identifier["phone"]
            return next(
                (c for c in self.customers_by_id.values() if c.get("phone") == phone), None
            ), []
        if email is not None and self.customer_by_email(email) is not None:
            return None, [_user_error(["input", "email"], "Email has already been taken", "TAKEN")]
        return None, []

    def tagsAdd(self, _info: Info, id: str, tags: list[str]) -> Record:
        node = self._node(check_gid(id, "Order", "Customer"))
        if node is None:
            return _payload("node", [_user_error(["id"], "Node does not exist")])
        added = [t.strip() for t in tags if t.strip() and t.strip() not in node["tags"]]
        if added:
            self._changed(node, {"tags": [*node["tags"], *added]})
        view = self._order_view(node) if node["__typename"] == "Order" else node
        return {"node": view, "userErrors": []}

    def orderUpdate(self, _info: Info, input: Record) -> Record:
        order = self.orders_by_id.get(check_gid(input["id"], "Order"))
        if order is None:
            return _payload("order", [_user_error(["id"], "Order does not exist")])
        self._changed(order, {k: v for k, v in input.items() if k != "id"})
        return {"order": self._order_view(order), "userErrors": []}

    def orderMarkAsPaid(self, _info: Info, input: Record) -> Record:
        order = self._order_view(self.orders_by_id.get(check_gid(input["id"], "Order")))
        if order is None:
            return _payload("order", [_user_error(["id"], "Order does not exist")])
        if not order["canMarkAsPaid"]:
            return _payload("order", [_user_error(["id"], "Order cannot be marked as paid.")])
        self._changed(self.orders_by_id[order["id"]], {"displayFinancialStatus": "PAID"})
        return {"order": self._order_view(self.orders_by_id[order["id"]]), "userErrors": []}

    def metafieldsSet(self, _info: Info, metafields: list[Record]) -> Record:
        if len(metafields) > MAX_METAFIELDS:
            message = f"Exceeds the maximum input size of {MAX_METAFIELDS} metafields"
            return _payload(
                "metafields", [_user_error(["metafields"], message, "LESS_THAN_OR_EQUAL_TO")]
            )
        errors = [e for i, m in enumerate(metafields) if (e := self._metafield_error(i, m))]
        if errors:
            return _payload("metafields", errors)  # atomic: nothing is set
        written = []
        for m in metafields:
            key = (m["ownerId"], m.get("namespace") or "$app", m["key"])
            current = self.metafields.get(key)
            record = {
                "__typename": "Metafield", "id": current["id"] if current else
                gid("Metafield", next(self._numbers)), "namespace": key[1], "key": key[2],
                "value": m["value"], "type": m.get("type") or (current or {}).get("type"),
            }  # fmt: skip
            if record != current:
                self.metafields[key] = record
                self.writes[m["ownerId"]] += 1
            written.append(record)
        return {"metafields": written, "userErrors": []}

    def _metafield_error(self, index: int, m: Record) -> Record | None:
        owner = check_gid(m["ownerId"])
        if self._node(owner) is None:
            return {
                **_user_error(["metafields", index, "ownerId"], "Owner does not exist", "INVALID"),
                "elementIndex": index,
            }
        key = (owner, m.get("namespace") or "$app", m["key"])
        if key not in self.metafields and not m.get("type"):
            return {
                **_user_error(["metafields", index, "type"], "Type can't be blank", "BLANK"),
                "elementIndex": index,
            }
        return None

    def inventoryAdjustQuantities(self, info: Info, input: Record) -> Record:
        key = self._idempotency_key(info)
        if key is not None and key in self.idempotent:
            self.replays += 1
            return self.idempotent[key]
        errors = self._inventory_errors(input)
        if errors:
            return _payload("inventoryAdjustmentGroup", errors)
        changes = []
        for change in input["changes"]:
            level = (change["inventoryItemId"], change["locationId"])
            self.inventory[level] += change["delta"]
            self.writes[level[0]] += 1 if change["delta"] else 0
            after = self.inventory[level]
            changes.append(
                {"name": input["name"], "delta": change["delta"], "quantityAfterChange": after}
            )
        group = {
            "id": gid("InventoryAdjustmentGroup", next(self._numbers)),
            "reason": input["reason"],
            "changes": changes,
        }
        result = {"inventoryAdjustmentGroup": group, "userErrors": []}
        if key is not None:
            self.idempotent[key] = result
        return result

    def _idempotency_key(self, info: Info) -> str | None:
        directive = info.schema.get_directive("idempotent")
        values = (
            get_directive_values(directive, info.field_nodes[0], info.variable_values)
            if directive
            else None
        )
        if values is None and self.api_version >= IDEMPOTENCY_REQUIRED_FROM:
            raise GraphQLError(
                "The @idempotent directive is required for this mutation",
                extensions={"code": "IDEMPOTENCY_KEY_REQUIRED"},
            )  # [? message and code]
        return str(values["key"]) if values else None

    def _inventory_errors(self, input: Record) -> list[Record]:
        if input["name"] not in QUANTITY_NAMES:
            return [
                _user_error(
                    ["input", "name"], "The quantity name is invalid", "INVALID_QUANTITY_NAME"
                )
            ]
        if input["reason"] not in REASONS:
            return [_user_error(["input", "reason"], "The reason is invalid", "INVALID_REASON")]
        errors = []
        for i, change in enumerate(input["changes"]):
            item = check_gid(change["inventoryItemId"], "InventoryItem")
            level = (item, check_gid(change["locationId"], "Location"))
            path: list[str | int] = ["input", "changes", i]
            if level not in self.inventory:
                errors.append(
                    _user_error(
                        [*path, "inventoryItemId"],
                        "The item is not stocked at the location",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
            elif change.get("changeFromQuantity") not in (None, self.inventory[level]):
                errors.append(
                    _user_error(
                        [*path, "changeFromQuantity"],
                        "The quantity changed since it was read",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
        return errors

    def _node(self, node_id: str) -> Record | None:
        return self.orders_by_id.get(node_id) or self.customers_by_id.get(node_id)


def money(amount: str, currency: str = "EUR") -> Record:
    """A ``MoneyBag`` in the shop's currency (presentment: the same)."""
    value = {"amount": amount, "currencyCode": currency}
    return {"shopMoney": value, "presentmentMoney": value}


def line_item(
    number: int, name: str, quantity: int, price: str, *, sku: str | None = None,
    product: int | None = None,
) -> Record:  # fmt: skip
    """A ``LineItem`` record for :meth:`ShopStore.seed_order`."""
    return {
        "__typename": "LineItem", "id": gid("LineItem", number), "name": name, "sku": sku,
        "quantity": quantity, "originalUnitPriceSet": money(price),
        "product": {"id": gid("Product", product), "title": name} if product else None,
    }  # fmt: skip


def _payload(entity: str, errors: list[Record]) -> Record:
    return {entity: None, "userErrors": errors}


def _connection(
    records: list[Record],
    *,
    first: int | None = None,
    after: str | None = None,
    query: str | None = None,
    sortKey: str = "ID",
    reverse: bool = False,
) -> Record:
    """A page in Shopify's connection shape (``edges``/``nodes``/``pageInfo``)."""
    if first is None:
        raise GraphQLError("you must provide one of first or last")
    if not 0 <= first <= MAX_PAGE:
        raise GraphQLError(f"The maximum number of items per page is {MAX_PAGE}")  # [? message]
    for term in _SEARCH.finditer(query or ""):  # other search terms are ignored here
        records = [r for r in records if _compare(r["updatedAt"], term["op"], term["value"])]

    def position(r: Record) -> list[Any]:
        number = int(r["id"].rsplit("/", 1)[1])
        return [_sortable(r["updatedAt"]), number] if sortKey == "UPDATED_AT" else [number]

    records.sort(key=position, reverse=reverse)
    if after is not None:
        mark = orjson.loads(base64.b64decode(after))
        records = [r for r in records if (position(r) < mark if reverse else position(r) > mark)]
    page = records[:first]
    cursors = [base64.b64encode(orjson.dumps(position(r))).decode() for r in page]
    return {
        "edges": [{"cursor": c, "node": r} for c, r in zip(cursors, page, strict=True)],
        "nodes": page,
        "pageInfo": {
            "hasNextPage": len(records) > first,
            "hasPreviousPage": after is not None,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def _sortable(stamp: str) -> str:
    """``stamp`` in one fixed format (UTC, microseconds), so that text order is time order."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).isoformat(timespec="microseconds")


def _compare(stamp: str, op: str, value: str) -> bool:
    left = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    right = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if right.tzinfo is None:
        right = right.replace(tzinfo=UTC)
    return {"<": left < right, "<=": left <= right, ">": left > right, ">=": left >= right}[op]
