"""Sample webhook traffic for the local demo (``hookline demo``), signed like the real thing.

Posts a steady, bounded trickle to the local ingress, feeding the four flows of the demo's
connectors (docs/connectors.md, "Flows"): Shopify orders (of the stand-in shop's orders
1..``DEMO_SHOP_ORDERS``) and customers, Stripe payments and refunds naming those orders in
``metadata.order_id`` (some naming none: unlinked), HubSpot contact property changes and
Telegram messages; also GitHub pushes and WooCommerce orders. Each is signed with the demo
source's secret through the provider module's own ``sign`` twin. To show the
pipeline's guarantees it also sends, now and then:

- a **redelivery** of an earlier event (same event ID): the processors drop it (dedupe);
- the **same state again** under a new event ID: the connectors skip it (change detection);
- a request with a **wrong signature**: the ingress answers 401 and publishes nothing;
- a Shopify customer whose **email HubSpot refuses** (no top-level domain; request 3, then
  every :data:`MISTYPED_EVERY`): the warehouse stores it, the ``crm`` connector
  dead-letters it with HubSpot's message, and the alert reaches the admin chat of the
  Telegram stand-in.

Loopback only; ``rate`` requests per second; stops after ``count`` requests (0: until
interrupted).
"""

from __future__ import annotations

import asyncio
import itertools
import random
import time
import uuid
from collections import Counter, deque
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import aiohttp
import orjson

from hookline.logs import get_logger
from ingress.providers import REGISTRY
from ingress.providers.base import SourceConfig
from sandbox.shopify import DEMO_ORDERS

log = get_logger("hookline.demo")
READY_WAIT_SECONDS = 60.0


@dataclass(frozen=True, slots=True)
class DemoRequest:
    source: str
    body: bytes
    extra: dict[str, str]


def _now_iso() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


DEMO_SHOP_ORDERS = min(40, DEMO_ORDERS)
"""The demo's Shopify orders and Stripe payments name orders 1..N: orders that exist in the
demo's stand-in shop (``python -m sandbox.shopify PORT``); few, so entities repeat."""
DEMO_CUSTOMERS = 7
MISTYPED_EVERY = 500
HUBSPOT_PORTAL = 62515


def _buyer(k: int) -> dict[str, object]:
    return {
        "id": 7_000_000 + k,
        "email": f"buyer{k}@example.com",
        "first_name": "Demo",
        "last_name": f"Buyer {k}",
    }


def _shopify(body: dict[str, object], topic: str) -> DemoRequest:
    headers = {"topic": topic, "event_id": str(uuid.uuid4()), "shop": "demo.myshopify.com"}
    return DemoRequest("shopify", orjson.dumps(body), headers)


def shopify_order(n: int, rng: random.Random) -> DemoRequest:
    """An order of the stand-in shop: few orders, many updates (entities repeat)."""
    number = 1 + rng.randrange(DEMO_SHOP_ORDERS)
    total = rng.choice(["19.99", "49.00", "120.50", "7.25"])
    buyer = _buyer(number % DEMO_CUSTOMERS)
    body = {
        "id": number,
        "name": f"#{number}",
        "email": buyer["email"],
        "created_at": "2026-11-20T10:00:00+01:00",
        "updated_at": _now_iso(),
        "currency": "EUR",
        "total_price": total,
        "subtotal_price": total,
        "total_tax": "0.00",
        "financial_status": "pending",
        "fulfillment_status": None,
        "customer": buyer,
        "line_items": [
            {
                "id": n,
                "sku": "SKU-1",
                "title": "Mug",
                "quantity": 1,
                "price": total,
                "product_id": 9_000_001,
            }
        ],
    }
    return _shopify(body, rng.choice(["orders/create", "orders/updated"]))


def shopify_customer(n: int, rng: random.Random) -> DemoRequest:
    """Flow 2: a customer created or updated in the shop (sometimes a new phone number)."""
    k = rng.randrange(DEMO_CUSTOMERS)
    body = {
        **_buyer(k),
        "phone": f"+4930555{rng.randrange(100):04d}",
        "created_at": "2026-11-01T09:00:00+01:00",
        "updated_at": _now_iso(),
        "state": "enabled",
        "default_address": {"company": f"Demo Company {k % 3}", "city": "Berlin"},
    }
    return _shopify(body, rng.choice(["customers/create", "customers/update"]))


def shopify_customer_mistyped(n: int, rng: random.Random) -> DemoRequest:
    """A customer typed in with an email HubSpot refuses (``INVALID_EMAIL``)."""
    k = DEMO_CUSTOMERS + n
    body = {
        **_buyer(k),
        "email": f"buyer{k}@example",
        "created_at": "2026-11-01T09:00:00+01:00",
        "updated_at": _now_iso(),
        "state": "enabled",
    }
    return _shopify(body, "customers/create")


def stripe_payment(n: int, rng: random.Random) -> DemoRequest:
    """Flow 1: a payment for a shop order (``metadata.order_id``), now and then one without
    (unlinked), or a refund of a charge."""
    number = 1 + rng.randrange(DEMO_SHOP_ORDERS)
    metadata = {"order_id": str(number)} if rng.random() < 0.85 else {}
    now = int(time.time())
    if rng.random() < 0.2:
        kind, obj = (
            "charge.refunded",
            {
                "id": f"ch_demo{number:04d}",
                "object": "charge",
                "amount": 1999,
                "amount_refunded": 1999,
                "refunded": True,
                "currency": "eur",
                "status": "succeeded",
                "created": now - 120,
                "payment_intent": f"pi_demo{number:04d}",
                "metadata": metadata,
            },
        )
    else:
        kind, obj = (
            "payment_intent.succeeded",
            {
                "id": f"pi_demo{number:04d}",
                "object": "payment_intent",
                "amount": 1999,
                "amount_received": 1999,
                "currency": "eur",
                "status": "succeeded",
                "created": now - 60,
                "customer": f"cus_demo{number % DEMO_CUSTOMERS}",
                "description": f"Order #{number}",
                "metadata": metadata,
            },
        )
    body = {
        "id": f"evt_demo{uuid.uuid4().hex[:20]}",
        "object": "event",
        "api_version": "2024-06-20",
        "created": now,
        "type": kind,
        "livemode": False,
        "pending_webhooks": 1,
        "request": {"id": None, "idempotency_key": None},
        "data": {"object": obj},
    }
    return DemoRequest("stripe", orjson.dumps(body), {})


def hubspot_contact_change(n: int, rng: random.Random) -> DemoRequest:
    """Flow 3: a contact edited in HubSpot; HubSpot sends one event per changed property
    (here its email and first name), batched in one request."""
    k = rng.randrange(DEMO_CUSTOMERS)
    at = int(time.time() * 1000)
    changes = {"email": f"buyer{k}@example.com", "firstname": rng.choice(["Ada", "Grace", "Demo"])}
    body = [
        {
            "eventId": n * 10 + i,
            "subscriptionId": 1,
            "portalId": HUBSPOT_PORTAL,
            "appId": 1,
            "occurredAt": at,
            "subscriptionType": "contact.propertyChange",
            "attemptNumber": 0,
            "objectId": 1001 + k,
            "propertyName": name,
            "propertyValue": value,
            "changeSource": "CRM_UI",
        }
        for i, (name, value) in enumerate(changes.items())
    ]
    return DemoRequest("hubspot", orjson.dumps(body), {})


def telegram_message(n: int, rng: random.Random) -> DemoRequest:
    body = {
        "update_id": 800_000 + n,
        "message": {
            "message_id": n,
            "date": int(time.time()),
            "text": rng.choice(
                ["Where is my order?", "Thanks!", "/status", "Can I change the address?"]
            ),
            "chat": {"id": 4242, "type": "private", "first_name": "Ada"},
            "from": {"id": 4242, "is_bot": False, "first_name": "Ada", "username": "ada"},
        },
    }
    return DemoRequest("telegram", orjson.dumps(body), {})


def github_push(n: int, rng: random.Random) -> DemoRequest:
    body = {
        "ref": "refs/heads/main",
        "after": uuid.uuid4().hex + uuid.uuid4().hex[:8],
        "repository": {"id": 1296269, "full_name": "octocat/Hello-World"},
        "pusher": {"name": "octocat"},
    }
    return DemoRequest(
        "github", orjson.dumps(body), {"event": "push", "delivery": str(uuid.uuid4())}
    )


def woocommerce_order(n: int, rng: random.Random) -> DemoRequest:
    order_id = 700 + rng.randrange(20)
    body = {
        "id": order_id,
        "number": str(order_id),
        "status": rng.choice(["processing", "completed"]),
        "currency": "USD",
        "total": "42.00",
        "date_created_gmt": "2026-11-20T09:00:00",
        "date_modified_gmt": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S"),
        "billing": {"email": f"woo{order_id % 5}@example.com", "first_name": "Woo"},
        "line_items": [{"id": 1, "name": "Hoodie", "quantity": 1, "sku": "H-1", "price": 42}],
    }
    return DemoRequest("woocommerce", orjson.dumps(body), {"topic": "order.updated"})


GENERATORS: tuple[Callable[[int, random.Random], DemoRequest], ...] = (
    shopify_order,
    shopify_order,
    shopify_customer,
    stripe_payment,
    stripe_payment,
    hubspot_contact_change,
    telegram_message,
    github_push,
    woocommerce_order,
)


class DemoTraffic:
    def __init__(self, base_url: str, sources: dict[str, SourceConfig], seed: int = 7) -> None:
        self._base_url = base_url.rstrip("/")
        self._sources = sources
        self._rng = random.Random(seed)  # noqa: S311 - demo data, not security
        self._sent: deque[tuple[DemoRequest, dict[str, str]]] = deque(maxlen=200)
        self.tally: Counter[str] = Counter()

    def _next(self, n: int) -> tuple[str, DemoRequest, dict[str, str]]:
        roll = self._rng.random()
        mistyped = n % MISTYPED_EVERY == 3  # new and signed correctly: only HubSpot refuses it
        if self._sent and roll < 0.08 and not mistyped:  # redelivery: same bytes and headers
            request, headers = self._rng.choice(self._sent)
            return "redelivery", request, headers
        generate = shopify_customer_mistyped if mistyped else self._rng.choice(GENERATORS)
        request = generate(n, self._rng)
        source = self._sources[request.source]
        secret = source.secrets[0].get_secret_value()
        extra = dict(request.extra)
        if source.provider == "hubspot":  # HubSpot signs the URL it posted to
            extra["url"] = f"{self._base_url}/webhooks/{request.source}"
        headers = REGISTRY[source.provider].sign(request.body, secret, time.time(), **extra)
        if roll > 0.98 and not mistyped:
            return "bad_signature", request, {**headers, **_tamper(headers)}
        self._sent.append((request, headers))
        return "new", request, headers

    async def run(self, rate: float, count: int) -> Counter[str]:
        interval = 1.0 / rate
        async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=30)) as session:
            await self._wait_ready(session)
            for n in itertools.count(1) if count == 0 else range(1, count + 1):
                kind, request, headers = self._next(n)
                url = f"{self._base_url}/webhooks/{request.source}"
                try:
                    async with session.post(url, data=request.body, headers=headers) as response:
                        self.tally[f"{kind}:{response.status}"] += 1
                except aiohttp.ClientError:
                    self.tally[f"{kind}:unreachable"] += 1
                if n % 50 == 0:
                    log.info("demo traffic", sent=n, answers=dict(sorted(self.tally.items())))
                await asyncio.sleep(interval)
        return self.tally

    async def _wait_ready(self, session: aiohttp.ClientSession) -> None:
        try:
            async with asyncio.timeout(READY_WAIT_SECONDS):
                while not await self._ready(session):  # noqa: ASYNC110 - polls another process
                    await asyncio.sleep(0.5)
        except TimeoutError:
            log.warning("ingress not ready; sending anyway", url=self._base_url)

    async def _ready(self, session: aiohttp.ClientSession) -> bool:
        try:
            async with session.get(f"{self._base_url}/readyz") as response:
                return response.status == 200
        except aiohttp.ClientError:
            return False


def _tamper(headers: dict[str, str]) -> dict[str, str]:
    """Break the first signature-like header, keeping its shape."""
    for name, value in headers.items():
        lowered = name.lower()
        if any(word in lowered for word in ("signature", "hmac", "secret-token")) and value:
            return {name: value[:-2] + ("AA" if value[-2:] != "AA" else "BB")}
    return {}
