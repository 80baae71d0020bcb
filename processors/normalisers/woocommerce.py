"""WooCommerce webhooks -> Order, Customer, Product.

The topic (``X-WC-Webhook-Topic``, the ``event_type`` header) is ``{resource}.{event}``;
the body is the REST API's ``GET /wc/v3/{resource}s/{id}`` object, except ``*.deleted``,
which sends ``{"id": …}`` only:

===================================  ===========  =============================================
topic                                family       action
===================================  ===========  =============================================
order.created, updated, restored     order        created, updated, updated
customer.created, updated, restored  customer     created, updated, updated
product.created, updated, restored   product      created, updated, updated
order/customer/product.deleted       (as above)   deleted (``partial``: only the ID is known)
anything else (coupon.*, action.*)   passthrough  received
===================================  ===========  =============================================

Passthrough keys: ``woocommerce:{source}:{topic}:{id}``.
WooCommerce IDs are per site, so entity IDs are scoped by the configured source name:
``woocommerce:{source}:{id}`` (renaming a source renames its entities).

Times: the ``*_gmt`` fields are UTC without an offset and are read as UTC; a site-local
field is used only when it carries an offset (otherwise its instant is unknown).
``updated_at`` is ``date_modified``, else ``date_created``, else the ingress
``received_at`` (deletions).

Orders: WooCommerce has one status field; it is kept in ``financial_status`` and mapped to
``status``: pending, on-hold, draft, checkout-draft -> pending; processing -> paid (paid,
awaiting fulfilment); completed -> fulfilled; cancelled; refunded; failed -> unknown.
``subtotal`` is the sum of the line subtotals. A store may keep more decimals than its
currency has: amounts are rounded half to even to the currency's minor unit. ``metadata``:
the order's ``meta_data`` (``key`` -> string ``value``; plugins' ``_``-prefixed keys too),
bounded.
Products carry no currency, so ``Product.price`` stays unset; ``stock_quantity`` becomes
one inventory level.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from processors.normalisers.base import (
    Deletable,
    InvalidPayload,
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
    Money,
    Order,
    Product,
)

_ACTIONS = {"created": "created", "updated": "updated", "restored": "updated", "deleted": "deleted"}
_STATUS = {
    "pending": "pending",
    "on-hold": "pending",
    "draft": "pending",
    "checkout-draft": "pending",
    "processing": "paid",
    "completed": "fulfilled",
    "cancelled": "cancelled",
    "refunded": "refunded",
}
_MODELS: dict[str, Deletable] = {
    "order": Order,
    "customer": Customer,
    "product": Product,
}
_ADDRESS = {
    "line1": "address_1",
    "line2": "address_2",
    "city": "city",
    "region": "state",
    "postal_code": "postcode",
    "country": "country",
}


class WooCommerceNormaliser(ProviderNormaliser):
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        body = json_object(raw.body)
        resource, _, verb = raw.headers.event_type.partition(".")
        action = _ACTIONS.get(verb) if resource in _MODELS else None
        scope = f"woocommerce:{raw.headers.source}"
        if action is None:
            native = body.opt_ident("id")
            key = f"{scope}:{raw.headers.event_type}:{native}" if native else None
            return [passthrough(raw, dict(body.data), entity_id=key)]
        native = body.ident("id")
        ids = (f"{scope}:{native}", {"woocommerce": native})
        if action == "deleted":
            return [deletion(raw, _MODELS[resource], *ids)]
        build = _BUILDERS[resource]
        return [event(raw, action, build(body, ids, scope, raw.headers.received_at))]


Ids = tuple[str, dict[str, str]]


def _time(body: Obj, name: str) -> datetime | None:
    gmt = body.time(f"{name}_gmt", naive_utc=True)
    if gmt is not None or body.get(name) is None:
        return gmt
    try:
        return body.time(name)
    except InvalidPayload:
        return None  # site-local time without an offset: its instant is unknown


def _changed_at(body: Obj, received_at: datetime) -> datetime:
    return _time(body, "date_modified") or _time(body, "date_created") or received_at


def _order(body: Obj, ids: Ids, scope: str, received_at: datetime) -> Order:
    currency = body.text("currency")
    items = body.children("line_items")
    customer_id = body.opt_ident("customer_id")
    email = body.text_at("billing", "email")
    known_customer = customer_id not in (None, "0")  # 0: a guest checkout
    status = body.text("status")
    subtotals = [item.money("subtotal", currency, rounding=True) for item in items]
    return Order(
        id=ids[0],
        external_ids=ids[1],
        updated_at=_changed_at(body, received_at),
        number=body.opt_ident("number"),
        status=_STATUS.get(status or "", "unknown"),
        financial_status=status,
        customer=CustomerRef(id=f"{scope}:{customer_id}" if known_customer else None, email=email)
        if known_customer or email
        else None,
        total=body.money("total", currency, rounding=True),
        subtotal=_sum(subtotals),
        tax=body.money("total_tax", currency, rounding=True),
        line_items=tuple(_line_item(item, currency, scope) for item in items),
        shipping_address=address(body.child("shipping"), **_ADDRESS),
        created_at=_time(body, "date_created"),
        metadata=pair_map(body.get("meta_data"), "key"),
    )


def _sum(amounts: list[Money | None]) -> Money | None:
    known = [a for a in amounts if a is not None]
    if not known or len(known) < len(amounts):
        return None
    return Money(amount_minor=sum(a.amount_minor for a in known), currency=known[0].currency)


def _line_item(item: Obj, currency: str | None, scope: str) -> LineItem:
    product = item.opt_ident("product_id")
    return LineItem(
        sku=item.text("sku"),
        name=item.text("name"),
        quantity=item.integer("quantity") or 0,
        unit_price=item.money("price", currency, rounding=True),
        product_id=f"{scope}:{product}" if product not in (None, "0") else None,
    )


def _customer(body: Obj, ids: Ids, scope: str, received_at: datetime) -> Customer:
    return Customer(
        id=ids[0],
        external_ids=ids[1],
        updated_at=_changed_at(body, received_at),
        email=body.text("email") or body.text_at("billing", "email"),
        first_name=body.text("first_name"),
        last_name=body.text("last_name"),
        phone=body.text_at("billing", "phone"),
        company=body.text_at("billing", "company"),
        address=address(body.child("billing"), **_ADDRESS),
        created_at=_time(body, "date_created"),
    )


def _product(body: Obj, ids: Ids, scope: str, received_at: datetime) -> Product:
    stock = body.integer("stock_quantity")
    return Product(
        id=ids[0],
        external_ids=ids[1],
        updated_at=_changed_at(body, received_at),
        title=body.text("name"),
        sku=body.text("sku"),
        status=body.text("status"),
        inventory=(InventoryLevel(available=stock),) if stock is not None else (),
        tags=split_tags([tag.text("name") for tag in body.children("tags")]),
        created_at=_time(body, "date_created"),
    )


_BUILDERS: dict[str, Callable[[Obj, Ids, str, datetime], Order | Customer | Product]] = {
    "order": _order,
    "customer": _customer,
    "product": _product,
}

NORMALISER = WooCommerceNormaliser()
