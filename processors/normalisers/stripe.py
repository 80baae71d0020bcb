"""Stripe events -> Payment and Customer.

The body is an Event: ``id``, ``type``, ``created`` (unix seconds) and ``data.object``, the
object as it is after the change. The entity is chosen by ``data.object.object``, so
``charge.refund.updated`` (a refund object) and ``refund.updated`` map alike:

=============================================  ===========  ================================
``data.object.object`` (event types)           family       ``Payment.object_type``, notes
=============================================  ===========  ================================
payment_intent (``payment_intent.*``)          payment      payment_intent
charge (``charge.*``, incl. ``refunded``)      payment      charge; ``refunds`` when listed
refund (``refund.*``, ``charge.refund.*``)     payment      refund; ``parent_id``: charge
customer (``customer.*``)                      customer     ``properties``: metadata
invoice (``invoice.*``)                        payment      invoice
checkout.session (``checkout.session.*``)      payment      checkout_session
anything else (plan, dispute, subscription…)   passthrough  keyed ``stripe:{object id}``
``invoice.upcoming`` (no ID), thin v2 events   passthrough  one key per event
=============================================  ===========  ================================

Action, from the type's last segment: ``created``/``updated``/``deleted`` as is;
``succeeded``, ``paid``, ``payment_succeeded``, ``captured``, ``async_payment_succeeded``
-> ``paid``; ``failed``, ``payment_failed``, ``async_payment_failed`` -> ``failed``;
``canceled``, ``voided``, ``expired`` -> ``cancelled``; ``refunded`` -> ``refunded``;
``checkout.session.completed`` -> ``paid`` when ``payment_status`` is ``paid``; any other
-> ``updated``.

``Payment.status``: intents requires_* and processing -> pending (requires_action kept;
requires_payment_method after a failed attempt -> failed), canceled -> cancelled; charges
by ``status``, then ``refunded`` / a positive ``amount_refunded`` -> refunded /
partially_refunded; refunds by their own status; invoices draft, open -> pending, paid ->
succeeded, uncollectible -> failed, void -> cancelled; sessions by ``payment_status``
(paid, no_payment_required -> succeeded; else pending), expired -> cancelled.

Amounts are integers in Stripe's minor unit of the currency, converted to ISO 4217 minor
units where the two differ (:func:`_stripe_exponent`): ISK and UGX (Stripe: two decimals,
ISO: none; an amount that is not a whole number of units is invalid), MGA (Stripe: none,
ISO: two). ``metadata`` (payments; for customers it is ``properties``) is kept as bounded
strings. Stripe objects carry no modification time, so ``updated_at`` (and ``time``) is the
event's ``created``. IDs are global: ``stripe:{id}``.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime

from processors.normalisers.base import (
    EntityModel,
    ProviderNormaliser,
    RawEvent,
    event,
    passthrough,
)
from processors.normalisers.fields import Obj, address, json_object, money_minor, string_map
from schemas.events import CloudEvent, Customer, CustomerRef, Money, Payment, Refund

_ACTIONS = {
    "created": "created",
    "updated": "updated",
    "deleted": "deleted",
    "refunded": "refunded",
    **dict.fromkeys(
        ["succeeded", "paid", "payment_succeeded", "captured", "async_payment_succeeded"], "paid"
    ),
    **dict.fromkeys(["failed", "payment_failed", "async_payment_failed"], "failed"),
    **dict.fromkeys(["canceled", "voided", "expired"], "cancelled"),
}
_INTENT_STATUS = {
    "requires_payment_method": "pending",
    "requires_confirmation": "pending",
    "requires_capture": "pending",
    "processing": "pending",
    "requires_action": "requires_action",
    "canceled": "cancelled",
    "succeeded": "succeeded",
}
_PLAIN_STATUS = {  # charges and refunds
    "pending": "pending",
    "requires_action": "requires_action",
    "succeeded": "succeeded",
    "failed": "failed",
    "canceled": "cancelled",
}
_INVOICE_STATUS = {
    "draft": "pending",
    "open": "pending",
    "paid": "succeeded",
    "uncollectible": "failed",
    "void": "cancelled",
}
_ADDRESS = {
    "line1": "line1",
    "line2": "line2",
    "city": "city",
    "region": "state",
    "postal_code": "postal_code",
    "country": "country",
}
_SESSION_PAYMENT_STATUS = {"paid": "succeeded", "no_payment_required": "succeeded"}

# How many decimals Stripe's API amounts carry per currency, from "Supported currencies"
# (https://docs.stripe.com/currencies: "Zero-decimal currencies", "Three-decimal
# currencies", "Special cases"); every other currency has two. UGX is on Stripe's
# zero-decimal list, but its special case governs amounts, as ISK's does: "UGX transitioned
# to a zero-decimal currency, but backwards compatibility requires you to represent it as a
# two-decimal value [...] to charge 5 UGX, provide an amount value of 500". HUF and TWD are
# special only for payouts ("even though you can charge two-decimal amounts"), and payout
# amounts are two-decimal too ("pay out HUF 10 by submitting 1000").
# fmt: off
_STRIPE_ZERO_DECIMAL = ("BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF",
                        "VND", "VUV", "XAF", "XOF", "XPF")
# fmt: on
_STRIPE_EXPONENTS = {
    **dict.fromkeys(_STRIPE_ZERO_DECIMAL, 0),
    **dict.fromkeys(["BHD", "JOD", "KWD", "OMR", "TND"], 3),
}


class StripeNormaliser(ProviderNormaliser):
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        body = json_object(raw.body)
        event_type = body.req_text("type")
        body.ident("id")
        at = body.req_time("created")
        data = body.child("data")
        obj = data.child("object") if data else None
        build = _BUILDERS.get(str(obj.get("object"))) if obj else None
        if obj is None or build is None or event_type == "invoice.upcoming":
            object_id = obj.opt_ident("id") if obj else None
            return [
                passthrough(
                    raw,
                    dict(body.data),
                    entity_id=f"stripe:{object_id}" if object_id else None,
                    external_ids={"stripe": object_id} if object_id else None,
                    updated_at=at,
                )
            ]
        return [event(raw, _action(event_type, obj), build(obj, at))]


def _stripe_exponent(currency: str) -> int:
    return _STRIPE_EXPONENTS.get(currency, 2)


def _money(amount: object, currency: object) -> Money | None:
    """A Stripe amount as ISO 4217 minor units."""
    return money_minor(amount, currency, _stripe_exponent)


def _action(event_type: str, obj: Obj) -> str:
    if event_type == "checkout.session.completed":
        return "paid" if obj.get("payment_status") == "paid" else "updated"
    return _ACTIONS.get(event_type.rsplit(".", 1)[-1], "updated")


def _ids(obj: Obj) -> tuple[str, dict[str, str]]:
    native = obj.ident("id")
    return f"stripe:{native}", {"stripe": native}


def _ref(value: object) -> str | None:
    """An ID field that may be expanded into an object."""
    if isinstance(value, dict):
        value = value.get("id")
    return f"stripe:{value}" if isinstance(value, str) and value else None


def _customer_ref(obj: Obj, email: str | None) -> CustomerRef | None:
    customer_id = _ref(obj.get("customer"))
    if customer_id is None and email is None:
        return None
    return CustomerRef(id=customer_id, email=email)


def _payment(
    obj: Obj, at: datetime, object_type: str, status: str | None, **extra: object
) -> Payment:
    entity_id, external = _ids(obj)
    fields: dict[str, object] = {
        "id": entity_id,
        "external_ids": external,
        "updated_at": at,
        "object_type": object_type,
        "status": status or "unknown",
        "description": obj.text("description"),
        "created_at": obj.time("created"),
        "metadata": string_map(obj.child("metadata")),
    }
    return Payment.model_validate(fields | extra)


def _payment_intent(obj: Obj, at: datetime) -> Payment:
    status = _INTENT_STATUS.get(str(obj.get("status")))
    if status == "pending" and obj.get("last_payment_error"):
        status = "failed"  # back to requires_payment_method after a failed attempt
    return _payment(
        obj,
        at,
        "payment_intent",
        status,
        amount=_money(obj.get("amount"), obj.get("currency")),
        customer=_customer_ref(obj, obj.text("receipt_email")),
    )


def _charge(obj: Obj, at: datetime) -> Payment:
    currency = obj.get("currency")
    refunded = obj.integer("amount_refunded") or 0
    status = _PLAIN_STATUS.get(str(obj.get("status")))
    if obj.boolean("refunded"):
        status = "refunded"
    elif refunded > 0:
        status = "partially_refunded"
    refund_list = obj.child("refunds")
    email = obj.text_at("billing_details", "email") or obj.text("receipt_email")
    return _payment(
        obj,
        at,
        "charge",
        status,
        amount=_money(obj.get("amount"), currency),
        amount_refunded=_money(refunded, currency),
        customer=_customer_ref(obj, email),
        parent_id=_ref(obj.get("payment_intent")),
        refunds=tuple(_refund_item(r) for r in refund_list.children("data")) if refund_list else (),
    )


def _refund_item(obj: Obj) -> Refund:
    amount = _money(obj.get("amount"), obj.get("currency"))
    if amount is None:
        raise obj.error("amount", "refund without amount or currency")
    return Refund(
        id=f"stripe:{obj.ident('id')}",
        amount=amount,
        status=obj.text("status"),
        reason=obj.text("reason"),
        created_at=obj.time("created"),
    )


def _refund(obj: Obj, at: datetime) -> Payment:
    return _payment(
        obj,
        at,
        "refund",
        _PLAIN_STATUS.get(str(obj.get("status"))),
        amount=_money(obj.get("amount"), obj.get("currency")),
        parent_id=_ref(obj.get("charge")) or _ref(obj.get("payment_intent")),
        description=obj.text("description") or obj.text("reason"),
    )


def _invoice(obj: Obj, at: datetime) -> Payment:
    total = obj.get("total") if obj.get("total") is not None else obj.get("amount_due")
    return _payment(
        obj,
        at,
        "invoice",
        _INVOICE_STATUS.get(str(obj.get("status"))),
        amount=_money(total, obj.get("currency")),
        customer=_customer_ref(obj, obj.text("customer_email")),
        description=obj.text("description") or obj.text("number"),
    )


def _checkout_session(obj: Obj, at: datetime) -> Payment:
    status = _SESSION_PAYMENT_STATUS.get(str(obj.get("payment_status")), "pending")
    if obj.get("status") == "expired":
        status = "cancelled"
    email = obj.text_at("customer_details", "email") or obj.text("customer_email")
    return _payment(
        obj,
        at,
        "checkout_session",
        status,
        amount=_money(obj.get("amount_total"), obj.get("currency")),
        customer=_customer_ref(obj, email),
    )


def _customer(obj: Obj, at: datetime) -> Customer:
    entity_id, external = _ids(obj)
    metadata = obj.child("metadata")
    return Customer(
        id=entity_id,
        external_ids=external,
        updated_at=at,
        email=obj.text("email"),
        name=obj.text("name"),
        phone=obj.text("phone"),
        address=address(obj.child("address"), **_ADDRESS),
        properties={k: v for k, v in metadata.data.items() if isinstance(v, str)}
        if metadata
        else {},
        created_at=obj.time("created"),
    )


_BUILDERS: dict[str, Callable[[Obj, datetime], EntityModel]] = {
    "payment_intent": _payment_intent,
    "charge": _charge,
    "refund": _refund,
    "customer": _customer,
    "invoice": _invoice,
    "checkout.session": _checkout_session,
}

NORMALISER = StripeNormaliser()
