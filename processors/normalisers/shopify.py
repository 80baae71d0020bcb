"""Shopify webhooks -> Order, Customer, Product.

The topic (``X-Shopify-Topic``, the ``event_type`` header) picks the mapping; the body is
the REST resource of that topic:

=========================================  ===========  =====================================
topic                                      family       action
=========================================  ===========  =====================================
orders/create                              order        created
orders/updated, partially_fulfilled        order        updated
orders/paid                                order        paid
orders/cancelled                           order        cancelled
orders/fulfilled                           order        fulfilled
orders/delete                              order        deleted (``partial``: body ``{"id"}``)
customers/create, update, delete           customer     created, updated, deleted
customers/enable, customers/disable        customer     updated
products/create, update, delete            product      created, updated, deleted
inventory_levels/update                    product      updated
inventory_levels/connect, disconnect       product      connected, disconnected
any other topic (orders/edited, …)         passthrough  received
=========================================  ===========  =====================================

Passthrough keys: ``shopify:{resource}:{id}`` (``shopify:app:548380009``).

**Ids of full snapshots**: an order, customer or product whose body has ``updated_at`` is
``versioned`` (:func:`schemas.events.snapshot_event_id`): the webhook of a state and the
poller's read of the same state (``orders/updated``) share one CloudEvents ``id``.

**Two events per order**: every order topic but ``orders/delete`` also yields the order's
embedded ``customer`` as a Customer (action ``updated``, ``partial``: Shopify trims that
object, and omits it without protected-customer-data access), so customer consumers see
buyers without a ``customers/*`` subscription.

Order ``status``: ``cancelled`` when ``cancelled_at`` is set; else a refunded
``financial_status``; else ``fulfilled``; else paid, partially_paid, pending (pending,
authorized), cancelled (voided); ``open`` without a financial status. ``total``,
``subtotal``, ``tax`` are ``total_price``, ``subtotal_price``, ``total_tax`` in the shop
currency, as originally charged (refunds are visible in the status). ``metadata``: the
cart's ``note_attributes`` (``name`` -> string ``value``), bounded.

Products carry no currency in their payload, so ``Product.price`` stays unset; variant
stock goes to ``inventory``, and ``sku`` is set for single-variant products. Inventory-level
events name an inventory item, not a product: their Product is
``shopify:inventory_item:{id}`` (``partial``), joined on ``inventory[].inventory_item_id``.

IDs are global: ``shopify:{id}``. ``updated_at`` is the body's ``updated_at``, else
``created_at``, else (deletions) the ingress ``received_at``.
"""

from __future__ import annotations

from datetime import datetime

from processors.normalisers.base import (
    Deletable,
    ProviderNormaliser,
    RawEvent,
    deletion,
    event,
    passthrough,
)
from processors.normalisers.fields import Obj, address, json_object, pair_map, split_tags
from schemas.events import (
    CloudEvent,
    Customer,
    CustomerRef,
    InventoryLevel,
    LineItem,
    Order,
    Product,
)

_ACTIONS: dict[str, dict[str, str]] = {
    "orders": {
        "create": "created",
        "updated": "updated",
        "partially_fulfilled": "updated",
        "paid": "paid",
        "cancelled": "cancelled",
        "fulfilled": "fulfilled",
        "delete": "deleted",
    },
    "customers": {
        "create": "created",
        "update": "updated",
        "enable": "updated",
        "disable": "updated",
        "delete": "deleted",
    },
    "products": {"create": "created", "update": "updated", "delete": "deleted"},
    "inventory_levels": {
        "update": "updated",
        "connect": "connected",
        "disconnect": "disconnected",
    },
}
_DELETABLE: dict[str, Deletable] = {
    "orders": Order,
    "customers": Customer,
    "products": Product,
}
_FINANCIAL = {
    "paid": "paid",
    "partially_paid": "partially_paid",
    "pending": "pending",
    "authorized": "pending",
    "voided": "cancelled",
}
_ADDRESS = {
    "line1": "address1",
    "line2": "address2",
    "city": "city",
    "region": "province_code|province",
    "postal_code": "zip",
    "country": "country_code|country",
}


class ShopifyNormaliser(ProviderNormaliser):
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        body = json_object(raw.body)
        resource, _, verb = raw.headers.event_type.partition("/")
        action = _ACTIONS.get(resource, {}).get(verb)
        if action is None:
            native = body.opt_ident("id")
            entity_id = f"shopify:{resource}:{native}" if native else None
            return [passthrough(raw, dict(body.data), entity_id=entity_id)]
        if action == "deleted":
            return [deletion(raw, _DELETABLE[resource], *_ids(body))]
        if resource == "orders":
            return _order_events(raw, action, body)
        versioned = _has_version(body)
        if resource == "customers":
            data = customer(body, raw.headers.received_at)
            return [event(raw, action, data, versioned=versioned)]
        if resource == "products":
            return [
                event(raw, action, _product(body, raw.headers.received_at), versioned=versioned)
            ]
        return [event(raw, action, _inventory_level(body, raw.headers.received_at))]


def _ids(body: Obj) -> tuple[str, dict[str, str]]:
    native = body.ident("id")
    return f"shopify:{native}", {"shopify": native}


def _has_version(body: Obj) -> bool:
    """Shopify's ``updated_at`` is the resource's own version (the Admin API's ``updatedAt``
    that the poller reads), unlike ``created_at`` or the receipt time it falls back to."""
    return body.time("updated_at") is not None


def _changed_at(body: Obj, fallback: datetime) -> datetime:
    return body.time("updated_at") or body.time("created_at") or fallback


def _order_events(raw: RawEvent, action: str, body: Obj) -> list[CloudEvent]:
    order = _order(body, raw.headers.received_at)
    events = [event(raw, action, order, versioned=_has_version(body))]
    buyer = body.child("customer")
    if buyer is not None and buyer.opt_ident("id") is not None:
        snapshot = customer(buyer, order.updated_at).model_copy(update={"partial": True})
        events.append(event(raw, "updated", snapshot))
    return events


def _order(body: Obj, received_at: datetime) -> Order:
    entity_id, external = _ids(body)
    currency = body.text("currency")
    buyer = body.child("customer")
    buyer_id = buyer.opt_ident("id") if buyer else None
    email = body.text("email") or body.text("contact_email")
    return Order(
        id=entity_id,
        external_ids=external,
        updated_at=_changed_at(body, received_at),
        number=body.text("name") or body.opt_ident("order_number"),
        status=_order_status(body),
        financial_status=body.text("financial_status"),
        fulfillment_status=body.text("fulfillment_status"),
        customer=CustomerRef(id=f"shopify:{buyer_id}" if buyer_id else None, email=email)
        if buyer_id or email
        else None,
        total=body.money("total_price", currency),
        subtotal=body.money("subtotal_price", currency),
        tax=body.money("total_tax", currency),
        line_items=tuple(_line_item(item, currency) for item in body.children("line_items")),
        shipping_address=address(body.child("shipping_address"), **_ADDRESS),
        tags=split_tags(body.get("tags")),
        created_at=body.time("created_at"),
        cancelled_at=body.time("cancelled_at"),
        metadata=pair_map(body.get("note_attributes"), "name"),
    )


def _order_status(body: Obj) -> str:
    if body.get("cancelled_at"):
        return "cancelled"
    financial = body.text("financial_status")
    if financial in ("refunded", "partially_refunded"):
        return financial
    if body.text("fulfillment_status") == "fulfilled":
        return "fulfilled"
    if financial is None:
        return "open"
    return _FINANCIAL.get(financial, "unknown")


def _line_item(item: Obj, currency: str | None) -> LineItem:
    product = item.opt_ident("product_id")
    return LineItem(
        sku=item.text("sku"),
        name=item.text("name") or item.text("title"),
        quantity=item.integer("quantity") or 0,
        unit_price=item.money("price", currency),
        product_id=f"shopify:{product}" if product else None,
    )


def customer(body: Obj, fallback_time: datetime) -> Customer:
    """A Customer from a customer resource (``customers/*`` or an order's ``customer``)."""
    entity_id, external = _ids(body)
    default_address = body.child("default_address")
    return Customer(
        id=entity_id,
        external_ids=external,
        updated_at=_changed_at(body, fallback_time),
        email=body.text("email"),
        first_name=body.text("first_name"),
        last_name=body.text("last_name"),
        phone=body.text("phone"),
        company=body.text_at("default_address", "company"),
        address=address(default_address, **_ADDRESS),
        tags=split_tags(body.get("tags")),
        created_at=body.time("created_at"),
    )


def _product(body: Obj, received_at: datetime) -> Product:
    entity_id, external = _ids(body)
    variants = body.children("variants")
    return Product(
        id=entity_id,
        external_ids=external,
        updated_at=_changed_at(body, received_at),
        title=body.text("title"),
        sku=variants[0].text("sku") if len(variants) == 1 else None,
        status=body.text("status"),
        inventory=tuple(
            InventoryLevel(
                inventory_item_id=v.opt_ident("inventory_item_id"),
                available=v.integer("inventory_quantity"),
            )
            for v in variants
            if v.get("inventory_item_id") is not None or v.get("inventory_quantity") is not None
        ),
        tags=split_tags(body.get("tags")),
        created_at=body.time("created_at"),
    )


def _inventory_level(body: Obj, received_at: datetime) -> Product:
    item = body.ident("inventory_item_id")
    level = InventoryLevel(
        location_id=body.opt_ident("location_id"),
        inventory_item_id=item,
        available=body.integer("available"),
    )
    return Product(
        id=f"shopify:inventory_item:{item}",
        external_ids={"shopify_inventory_item": item},
        updated_at=body.time("updated_at") or received_at,
        inventory=(level,),
        partial=True,
    )


NORMALISER = ShopifyNormaliser()
