"""Stripe events -> Payment / Customer, on Stripe's own fixtures and hand-written events
shaped like Stripe's API reference (payment intents, charges, refunds, invoices, sessions)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from processors.normalisers import normalise
from processors.normalisers.base import InvalidPayload
from schemas.events import Customer, Money, Passthrough, Payment
from tests.unit.test_normalise_base import only, raw_event, sample

CREATED = 1717171717  # 2024-05-31T16:08:37Z
AT = datetime(2024, 5, 31, 16, 8, 37, tzinfo=UTC)


def stripe_event(event_type: str, obj: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {
        "id": "evt_1PMvXYZ",
        "object": "event",
        "type": event_type,
        "created": CREATED,
        "livemode": False,
        "api_version": "2024-04-10",
        "data": {"object": obj},
        **extra,
    }


def run(event_type: str, obj: dict[str, Any]) -> Any:
    event = only(normalise(raw_event("stripe", event_type, stripe_event(event_type, obj))))
    return event, event.data


def intent(**fields: Any) -> dict[str, Any]:
    return {
        "id": "pi_3PMv",
        "object": "payment_intent",
        "amount": 5000,
        "currency": "jpy",
        "status": "succeeded",
        "customer": "cus_Q1",
        "receipt_email": "taro@example.jp",
        "created": CREATED - 60,
        "description": None,
        **fields,
    }


def test_customer_created_fixture_becomes_a_customer() -> None:
    body = sample("stripe", "stripe-java_customer_created.json")
    event = only(normalise(raw_event("stripe", "customer.created", body, event_id="evt_00")))
    assert event.type == "dev.hookline.customer.created"
    assert event.subject == "customer:stripe:cus_00000000000000"
    assert isinstance(event.data, Customer)
    assert event.data.name == "Test Platform"
    assert event.data.external_ids == {"stripe": "cus_00000000000000"}
    assert event.data.updated_at == event.time == datetime(2012, 1, 18, 2, 24, 38, tzinfo=UTC)


@pytest.mark.parametrize(
    "name",
    ["openapi-fixtures3_resources.event.EXTRACT.json", "stripe-java_account_event.json"],
)
def test_unmodelled_objects_pass_through_keyed_by_object(name: str) -> None:
    body = sample("stripe", name)
    event = only(normalise(raw_event("stripe", "plan.created", body)))
    assert isinstance(event.data, Passthrough)
    assert event.type == "dev.hookline.passthrough.received"
    assert event.data.id.startswith("stripe:")
    assert isinstance(event.data.payload, dict)
    assert event.data.payload["type"] in ("plan.created", "account.updated")


def test_succeeded_payment_intent_in_yen_keeps_zero_decimal_amount() -> None:
    event, data = run("payment_intent.succeeded", intent())
    assert event.type == "dev.hookline.payment.paid"
    assert isinstance(data, Payment)
    assert data.object_type == "payment_intent"
    assert data.status == "succeeded"
    assert data.amount == Money(amount_minor=5000, currency="JPY")
    assert data.customer is not None
    assert (data.customer.id, data.customer.email) == ("stripe:cus_Q1", "taro@example.jp")
    assert data.updated_at == AT
    assert data.created_at == datetime(2024, 5, 31, 16, 7, 37, tzinfo=UTC)


def test_failed_payment_intent_is_failed_not_pending() -> None:
    obj = intent(status="requires_payment_method", last_payment_error={"code": "card_declined"})
    event, data = run("payment_intent.payment_failed", obj)
    assert event.type == "dev.hookline.payment.failed"
    assert data.status == "failed"


def test_cancelled_payment_intent_without_customer() -> None:
    event, data = run("payment_intent.canceled", intent(status="canceled", customer=None))
    assert event.type == "dev.hookline.payment.cancelled"
    assert data.status == "cancelled"
    assert (data.customer.id, data.customer.email) == (None, "taro@example.jp")


def charge(**fields: Any) -> dict[str, Any]:
    return {
        "id": "ch_3PMv",
        "object": "charge",
        "amount": 12500,
        "amount_refunded": 12500,
        "currency": "kwd",
        "status": "succeeded",
        "refunded": True,
        "payment_intent": "pi_3PMv",
        "customer": {"id": "cus_Q1", "object": "customer"},
        "billing_details": {"email": "a@example.com"},
        "created": CREATED,
        "refunds": {
            "object": "list",
            "data": [
                {
                    "id": "re_1",
                    "object": "refund",
                    "amount": 12500,
                    "currency": "kwd",
                    "status": "succeeded",
                    "reason": "requested_by_customer",
                    "created": CREATED,
                }
            ],
        },
        **fields,
    }


def test_refunded_charge_in_a_three_decimal_currency() -> None:
    event, data = run("charge.refunded", charge())
    assert event.type == "dev.hookline.payment.refunded"
    assert data.status == "refunded"
    assert data.amount == Money(amount_minor=12500, currency="KWD")  # 12.500 KWD
    assert data.amount_refunded == data.amount
    assert data.parent_id == "stripe:pi_3PMv"
    assert data.customer.id == "stripe:cus_Q1"  # expanded object
    assert [(r.id, r.amount.amount_minor, r.reason) for r in data.refunds] == [
        ("stripe:re_1", 12500, "requested_by_customer")
    ]


def test_partially_refunded_charge() -> None:
    _, data = run("charge.updated", charge(refunded=False, amount_refunded=2500, refunds=None))
    assert data.status == "partially_refunded"
    assert data.amount_refunded == Money(amount_minor=2500, currency="KWD")
    assert data.refunds == ()


@pytest.mark.parametrize("event_type", ["refund.created", "charge.refund.updated"])
def test_refund_objects_become_refund_payments_of_their_charge(event_type: str) -> None:
    obj = {
        "id": "re_9",
        "object": "refund",
        "amount": 1000,
        "currency": "usd",
        "charge": "ch_3PMv",
        "payment_intent": "pi_3PMv",
        "status": "pending",
        "reason": "duplicate",
        "created": CREATED,
    }
    event, data = run(event_type, obj)
    assert event.type == f"dev.hookline.payment.{event_type.rsplit('.', 1)[1]}"
    assert (data.object_type, data.status, data.parent_id) == (
        "refund",
        "pending",
        "stripe:ch_3PMv",
    )
    assert data.description == "duplicate"


def test_paid_invoice() -> None:
    obj = {
        "id": "in_1",
        "object": "invoice",
        "status": "paid",
        "total": 2000,
        "currency": "eur",
        "customer": "cus_Q1",
        "customer_email": "b@example.com",
        "number": "ABCD-0001",
        "created": CREATED,
    }
    event, data = run("invoice.paid", obj)
    assert event.type == "dev.hookline.payment.paid"
    assert (data.object_type, data.status, data.description) == (
        "invoice",
        "succeeded",
        "ABCD-0001",
    )
    assert data.amount == Money(amount_minor=2000, currency="EUR")


def test_upcoming_invoice_has_no_id_and_passes_through() -> None:
    obj = {"object": "invoice", "status": "draft", "total": 2000, "currency": "eur"}
    _, data = run("invoice.upcoming", obj)
    assert isinstance(data, Passthrough)
    assert data.id == "stripe:src:evt-1"


@pytest.mark.parametrize(
    ("event_type", "fields", "action", "status"),
    [
        ("checkout.session.completed", {"payment_status": "paid"}, "paid", "succeeded"),
        ("checkout.session.completed", {"payment_status": "unpaid"}, "updated", "pending"),
        ("checkout.session.expired", {"status": "expired"}, "cancelled", "cancelled"),
        ("checkout.session.async_payment_failed", {}, "failed", "pending"),
    ],
)
def test_checkout_sessions(
    event_type: str, fields: dict[str, Any], action: str, status: str
) -> None:
    obj = {
        "id": "cs_test_1",
        "object": "checkout.session",
        "amount_total": 4200,
        "currency": "usd",
        "customer": None,
        "customer_details": {"email": "c@example.com"},
        "payment_intent": "pi_2",
        "status": "complete",
        "payment_status": "unpaid",
        "created": CREATED,
    } | fields
    event, data = run(event_type, obj)
    assert event.type == f"dev.hookline.payment.{action}"
    assert (data.object_type, data.status) == ("checkout_session", status)
    assert data.customer.email == "c@example.com"


def test_deleted_customer_with_address_and_metadata() -> None:
    obj = {
        "id": "cus_Q1",
        "object": "customer",
        "email": "a@example.com",
        "name": "Ada Lovelace",
        "address": {"line1": "1 Main St", "city": "London", "country": "GB", "state": None},
        "metadata": {"crm_id": "42", "nested": {"no": 1}},
        "created": CREATED,
    }
    event, data = run("customer.deleted", obj)
    assert event.type == "dev.hookline.customer.deleted"
    assert data.address.line1 == "1 Main St"
    assert data.address.region is None
    assert data.properties == {"crm_id": "42"}


def test_thin_event_without_data_passes_through() -> None:
    body = {
        "id": "evt_1",
        "object": "v2.core.event",
        "type": "v1.billing.meter.error_report_triggered",
        "created": "2024-09-17T06:20:52.246Z",
    }
    event = only(normalise(raw_event("stripe", body["type"], body)))
    assert isinstance(event.data, Passthrough)
    assert event.time == datetime(2024, 9, 17, 6, 20, 52, 246000, tzinfo=UTC)


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        (b"not json", "not JSON"),
        (b"[]", "expected an object"),
        (stripe_event("charge.succeeded", charge(id=None)), r"data\.object\.id"),
        (stripe_event("charge.succeeded", charge(amount="125.00")), "integer amount"),
        (stripe_event("charge.succeeded", charge(currency="dollars")), "ISO 4217"),
        ({k: v for k, v in stripe_event("x.y", {}).items() if k != "created"}, "created"),
        (stripe_event("charge.succeeded", charge()) | {"type": None}, "type"),
    ],
)
def test_malformed_events_are_invalid_payloads(body: Any, reason: str) -> None:
    with pytest.raises(InvalidPayload, match=reason):
        normalise(raw_event("stripe", "charge.succeeded", body))


def test_same_event_same_id_and_another_delivery_id_another_id() -> None:
    body = stripe_event("payment_intent.succeeded", intent())
    first = normalise(raw_event("stripe", "payment_intent.succeeded", body))
    again = normalise(raw_event("stripe", "payment_intent.succeeded", body))
    other = normalise(raw_event("stripe", "payment_intent.succeeded", body, event_id="evt-2"))
    assert first == again
    assert first[0].id != other[0].id


# --- Stripe's currency special cases (https://docs.stripe.com/currencies) ------------------


@pytest.mark.parametrize(
    ("stripe_amount", "currency", "minor"),
    [
        # "ISK transitioned to a zero-decimal currency, but backward compatibility requires
        # you to represent it as a two-decimal value": 4,900 kr is 490000; ISO exponent 0.
        (490000, "isk", 4900),
        # UGX: the same special case (and ISO exponent 0): 5 UGX is 500.
        (500, "ugx", 5),
        # HUF and TWD are zero-decimal for payouts only; charges are two-decimal, as in ISO.
        (104500, "huf", 104500),
        (80045, "twd", 80045),
        # Zero-decimal on Stripe and in ISO: unchanged.
        (5000, "jpy", 5000),
        # MGA is on Stripe's zero-decimal list, but ISO 4217 gives it exponent 2.
        (5000, "mga", 500000),
        # Three-decimal on Stripe and in ISO (last digit 0): unchanged.
        (5120, "kwd", 5120),
        (2000, "eur", 2000),
    ],
)
def test_payment_amounts_follow_iso_minor_units_in_stripes_special_cases(
    stripe_amount: int, currency: str, minor: int
) -> None:
    _, data = run("payment_intent.succeeded", intent(amount=stripe_amount, currency=currency))
    assert data.amount == Money(amount_minor=minor, currency=currency.upper())


def test_every_amount_of_a_charge_is_converted() -> None:
    refund = charge()["refunds"]["data"][0] | {"amount": 100000, "currency": "isk"}
    obj = charge(amount=490000, amount_refunded=100000, currency="isk", refunded=False)
    _, data = run("charge.updated", obj | {"refunds": {"data": [refund]}})
    assert data.amount == Money(amount_minor=4900, currency="ISK")
    assert data.amount_refunded == Money(amount_minor=1000, currency="ISK")
    assert data.refunds[0].amount == Money(amount_minor=1000, currency="ISK")


@pytest.mark.parametrize("currency", ["isk", "ugx"])
def test_fractional_amount_in_a_whole_unit_currency_is_invalid(currency: str) -> None:
    with pytest.raises(InvalidPayload, match="whole number"):
        run("payment_intent.succeeded", intent(amount=490050, currency=currency))


# --- metadata -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("event_type", "obj"),
    [
        ("payment_intent.succeeded", intent()),
        ("charge.succeeded", charge()),
        ("invoice.paid", {"id": "in_1", "object": "invoice", "status": "paid"}),
        ("checkout.session.completed", {"id": "cs_1", "object": "checkout.session"}),
        ("refund.created", {"id": "re_1", "object": "refund", "status": "pending"}),
    ],
)
def test_payment_metadata_is_carried(event_type: str, obj: dict[str, Any]) -> None:
    metadata = {"order_id": "6735", "channel": "web"}
    _, data = run(event_type, obj | {"metadata": metadata})
    assert data.metadata == metadata


def test_metadata_keeps_only_bounded_string_entries() -> None:
    metadata: dict[str, Any] = {"order_id": "6735", "nested": {"no": 1}, "n": 7}
    metadata |= {"long": "x" * 501, "k" * 101: "v"}
    metadata |= {f"key{i:02}": str(i) for i in range(60)}
    _, data = run("payment_intent.succeeded", intent(metadata=metadata))
    assert data.metadata["order_id"] == "6735"
    assert len(data.metadata) == 50
    assert not {"nested", "n", "long", "k" * 101} & data.metadata.keys()


def test_payment_without_metadata_has_an_empty_map() -> None:
    _, data = run("payment_intent.succeeded", intent())
    assert data.metadata == {}
