"""A Shopify Admin GraphQL ``Order`` as the REST body of its ``orders/updated`` webhook.

The GraphQL selection (:data:`ORDER_FIELDS`, :data:`LINE_ITEM_FIELDS`) reads everything
the processors' Shopify normaliser turns into the canonical Order and the order's buyer
(:mod:`processors.normalisers.shopify`), and :func:`webhook_body` renames it to the REST
resource's names, so a poll and the webhook of one order state normalise to the same
Order:

=================================================  ========================================
GraphQL                                            REST (webhook)
=================================================  ========================================
``id`` (``gid://shopify/Order/450789469``)         ``id`` (450789469), ``admin_graphql_api_id``
``name``, ``email``, ``note``                      the same
``tags`` (a list)                                  ``tags`` (one string, ``", "``-separated)
``displayFinancialStatus`` (``PAID``)              ``financial_status`` (``paid``)
``displayFulfillmentStatus``                       ``fulfillment_status``: ``FULFILLED`` ->
                                                   ``fulfilled``, ``PARTIALLY_FULFILLED`` ->
                                                   ``partial``, ``RESTOCKED`` ->
                                                   ``restocked``, anything else null
``createdAt``, ``updatedAt``, ``cancelledAt``      ``created_at``, ``updated_at``,
                                                   ``cancelled_at``
``currencyCode``                                   ``currency``
``totalPriceSet``, ``subtotalPriceSet``,           ``total_price``, ``subtotal_price``,
``totalTaxSet`` (``shopMoney.amount``)             ``total_tax`` (shop currency)
``lineItems`` (``name``, ``sku``, ``quantity``,    ``line_items`` (``name``, ``sku``,
``originalUnitPriceSet``, ``product.id``)          ``quantity``, ``price``, ``product_id``)
``shippingAddress``, ``customer.defaultAddress``   ``shipping_address``, ``default_address``
(``provinceCode``, ``countryCodeV2``, …)           (``province_code``, ``country_code``, …)
``customer`` (``firstName``, …, a tag list)        ``customer`` (``first_name``, …, a string)
``customAttributes`` (``key``, ``value``)          ``note_attributes`` (``name``, ``value``)
=================================================  ========================================
"""

from __future__ import annotations

from typing import Any

ADDRESS_FIELDS = "company address1 address2 city province provinceCode zip country countryCodeV2"
LINE_ITEM_FIELDS = """
fragment PolledLineItem on LineItem {
  name sku quantity originalUnitPriceSet { shopMoney { amount } } product { id }
}
"""
ORDER_FIELDS = f"""
fragment PolledOrder on Order {{
  id name note tags email displayFinancialStatus displayFulfillmentStatus
  createdAt updatedAt cancelledAt currencyCode
  totalPriceSet {{ shopMoney {{ amount }} }}
  subtotalPriceSet {{ shopMoney {{ amount }} }}
  totalTaxSet {{ shopMoney {{ amount }} }}
  customer {{
    id email firstName lastName phone tags createdAt updatedAt
    defaultAddress {{ {ADDRESS_FIELDS} }}
  }}
  shippingAddress {{ {ADDRESS_FIELDS} }}
  customAttributes {{ key value }}
}}
"""
_FULFILLMENT = {"FULFILLED": "fulfilled", "PARTIALLY_FULFILLED": "partial",
                "RESTOCKED": "restocked"}  # fmt: skip
Node = dict[str, Any]


def webhook_body(node: Node, line_items: list[Node]) -> Node:
    """The ``orders/updated`` body of an order ``node`` with all its ``line_items``."""
    financial = node.get("displayFinancialStatus")
    return {
        "id": _number(node["id"]),
        "admin_graphql_api_id": node["id"],
        "name": node.get("name"),
        "email": node.get("email"),
        "note": node.get("note"),
        "tags": ", ".join(node.get("tags") or []),
        "financial_status": financial.lower() if isinstance(financial, str) else None,
        "fulfillment_status": _FULFILLMENT.get(str(node.get("displayFulfillmentStatus"))),
        "created_at": node.get("createdAt"),
        "updated_at": node["updatedAt"],
        "cancelled_at": node.get("cancelledAt"),
        "currency": node.get("currencyCode"),
        "total_price": _amount(node.get("totalPriceSet")),
        "subtotal_price": _amount(node.get("subtotalPriceSet")),
        "total_tax": _amount(node.get("totalTaxSet")),
        "line_items": [_line_item(item) for item in line_items],
        "shipping_address": _address(node.get("shippingAddress")),
        "customer": _customer(node.get("customer")),
        "note_attributes": [
            {"name": a["key"], "value": a.get("value")} for a in node.get("customAttributes") or []
        ],
    }


def _number(global_id: str) -> int:
    return int(str(global_id).rsplit("/", 1)[1])


def _amount(bag: Node | None) -> str | None:
    return str(bag["shopMoney"]["amount"]) if bag else None


def _line_item(item: Node) -> Node:
    product = item.get("product")
    return {
        "name": item.get("name"),
        "sku": item.get("sku"),
        "quantity": item.get("quantity"),
        "price": _amount(item.get("originalUnitPriceSet")),
        "product_id": _number(product["id"]) if product else None,
    }


def _address(address: Node | None) -> Node | None:
    if address is None:
        return None
    return {
        "company": address.get("company"),
        "address1": address.get("address1"),
        "address2": address.get("address2"),
        "city": address.get("city"),
        "province": address.get("province"),
        "province_code": address.get("provinceCode"),
        "zip": address.get("zip"),
        "country": address.get("country"),
        "country_code": address.get("countryCodeV2"),
    }


def _customer(customer: Node | None) -> Node | None:
    if customer is None:
        return None
    return {
        "id": _number(customer["id"]),
        "email": customer.get("email"),
        "first_name": customer.get("firstName"),
        "last_name": customer.get("lastName"),
        "phone": customer.get("phone"),
        "tags": ", ".join(customer.get("tags") or []),
        "created_at": customer.get("createdAt"),
        "updated_at": customer.get("updatedAt"),
        "default_address": _address(customer.get("defaultAddress")),
    }
