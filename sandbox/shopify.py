"""A local Shopify-compatible shop: the Admin GraphQL endpoint, as strict as the real one.

Imitates what :mod:`connectors.destinations.shopify` calls. Sources: the Admin GraphQL
reference and usage pages on shopify.dev (endpoint and authentication, "GraphQL Admin API
rate limits", "Idempotent requests", each mutation's page) as condensed in the project's
destination reference; [?] marks a detail the documentation leaves open.

- ``POST /admin/api/{version}/graphql.json``, ``version`` ``YYYY-01|04|07|10`` or
  ``unstable`` (404 otherwise); the answer names it in ``X-Shopify-API-Version``.
- ``X-Shopify-Access-Token``: 401 ``{"errors": "[API] Invalid API key or access token
  (unrecognized login or wrong password)"}`` otherwise.
- Body ``{"query", "variables", "operationName"}`` (400 when it is not JSON with a
  ``query``). The document is parsed and validated with graphql-core against
  :mod:`sandbox.shopify_schema` and its variables coerced: any failure is HTTP 200 with
  top-level ``errors`` and nothing executed. Mutation semantics, global IDs, userErrors
  and ``@idempotent``: :mod:`sandbox.shopify_store`.
- **Cost throttling** (leaky bucket per app and store): ``maximum_available`` points
  (2,000 by default, "seen as 2000 on Standard" [?]), restored at ``restore_rate`` points/s
  (100: the Standard plan). A request is charged its ``requestedQueryCost`` before it runs
  (``actualQueryCost`` is the same, 0 when nothing ran: no refund, stricter than
  Shopify); one costing more than is available gets HTTP 200 ``{"errors": [{"message":
  "Throttled", "extensions": {"code": "THROTTLED"}}]}`` and is not executed; one above
  1,000 points gets ``MAX_COST_EXCEEDED``. Every GraphQL answer carries ``extensions.cost
  = {requestedQueryCost, actualQueryCost, throttleStatus: {maximumAvailable,
  currentlyAvailable, restoreRate}}``.
- Scripted faults: a queue of :class:`~sandbox.destination_api.Reply` for any call (e.g.
  429 with ``Retry-After``, 503), answered before authentication and execution.

It records every call (:class:`ShopCall`) and, in :attr:`FakeShopify.store`, every
effective write per entity and the ``@idempotent`` keys it answered.
"""

from __future__ import annotations

import asyncio
import re
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute_sync,
    get_operation_ast,
    parse,
    validate,
)
from graphql.language import FragmentDefinitionNode

from sandbox.destination_api import Reply
from sandbox.serving import KEPT, listen, main
from sandbox.shopify_schema import requested_cost, shop_schema
from sandbox.shopify_store import ShopResolvers

TOKEN = "shpat_test-token"  # noqa: S105 - the stand-in's demo token, not a secret
MAX_QUERY_COST = 1000
DEMO_ORDERS = 100
_VERSION = re.compile(r"^(?:\d{4}-(?:01|04|07|10)|unstable)$")
_UNAUTHORIZED = "[API] Invalid API key or access token (unrecognized login or wrong password)"


@dataclass(frozen=True)
class ShopCall:
    at: float  # time.monotonic()
    version: str
    operation: str  # "query", "mutation" or "" (not executed)
    fields: tuple[str, ...]  # top-level fields of the operation
    status: int
    throttled: bool


class LeakyBucket:
    """Shopify's cost bucket: refills continuously, capped at its maximum."""

    def __init__(
        self, maximum: float, restore_rate: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.maximum = maximum
        self.restore_rate = restore_rate
        self._clock = clock
        self._available = maximum
        self._at = clock()

    def available(self) -> float:
        now = self._clock()
        self._available = min(self.maximum, self._available + (now - self._at) * self.restore_rate)
        self._at = now
        return self._available

    def set_available(self, points: float) -> None:
        self._available, self._at = points, self._clock()

    def take(self, points: float) -> bool:
        if points > self.available():
            return False
        self._available -= points
        return True

    def refund(self, points: float) -> None:
        self._available = min(self.maximum, self.available() + points)

    def status(self) -> dict[str, float]:
        return {
            "maximumAvailable": self.maximum,
            "currentlyAvailable": round(self.available(), 1),
            "restoreRate": self.restore_rate,
        }


class FakeShopify:
    def __init__(
        self,
        token: str = TOKEN,
        *,
        maximum_available: float = 2000.0,
        restore_rate: float = 100.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.token = token
        self.bucket = LeakyBucket(maximum_available, restore_rate, clock)
        self.store = ShopResolvers()
        self.calls: deque[ShopCall] = deque(maxlen=KEPT)  # the latest
        self.call_count = 0
        self.throttled = 0
        self.schema: GraphQLSchema = shop_schema()
        self._any_call: deque[Reply] = deque()
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    def script_calls(self, *replies: Reply) -> None:
        self._any_call.extend(replies)

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        """Listen on ``host:port`` (0: any free port); the shop's base URL."""
        app = web.Application()
        app.router.add_post("/admin/api/{version}/graphql.json", self._graphql)
        app.router.add_get("/_stats", self._stats)
        self._runner, self.base_url = await listen(app, port, host)
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _stats(self, _request: web.Request) -> web.Response:
        return web.json_response(
            {
                "calls": self.call_count,
                "effective_writes": self.store.total_writes,
                "replays": self.store.replays,
                "throttled": self.throttled,
            }
        )

    # --- the endpoint --------------------------------------------------------------------

    async def _graphql(self, request: web.Request) -> web.Response:
        version = request.match_info["version"]
        fault = self._any_call.popleft() if self._any_call else None
        if fault is not None and fault.delay:
            await asyncio.sleep(fault.delay)
        if not _VERSION.match(version):
            return self._plain(version, 404, {"errors": "Not Found"})
        if fault is not None and fault.status != 200:
            headers = dict(fault.headers)
            if fault.retry_after is not None:
                headers["Retry-After"] = f"{fault.retry_after:g}"
            body = fault.body or {"errors": f"scripted {fault.status}"}
            return self._plain(version, fault.status, body, headers)
        if request.headers.get("X-Shopify-Access-Token") != self.token:
            return self._plain(version, 401, {"errors": _UNAUTHORIZED})
        try:
            body = await request.json()
            document = str(body["query"])
            variables = body.get("variables") or {}
        except (ValueError, KeyError, TypeError):
            return self._plain(version, 400, {"errors": {"query": "Required parameter missing"}})
        answer, call = self._answer(version, document, variables, body.get("operationName"))
        self._record(call)
        return web.json_response(answer, headers={"X-Shopify-API-Version": version})

    def _answer(
        self, version: str, text: str, variables: dict[str, Any], name: str | None
    ) -> tuple[dict[str, Any], ShopCall]:
        try:
            document = parse(text)
        except GraphQLError as error:
            return self._errors([error.formatted]), _call(version, "", (), False)
        problems = validate(self.schema, document)
        operation = get_operation_ast(document, name)
        if problems or operation is None:
            errors = [p.formatted for p in problems] or [{"message": "No operation given"}]
            return self._errors(errors), _call(version, "", (), False)
        fields = tuple(
            s.name.value for s in operation.selection_set.selections if hasattr(s, "name")
        )
        kind = operation.operation.value
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        cost = requested_cost(self.schema, operation, fragments, variables)
        refused = self._refusal(cost)
        if refused is not None:
            return self._errors([refused], cost), _call(version, kind, fields, True)
        answer = self._execute(version, document, operation, variables, cost)
        return answer, _call(version, kind, fields, False)

    def _refusal(self, cost: int) -> dict[str, Any] | None:
        if cost > MAX_QUERY_COST:
            message = (
                f"Query cost is {cost}, which exceeds the single query max cost limit "
                f"({MAX_QUERY_COST})."
            )
            return {"message": message, "extensions": {"code": "MAX_COST_EXCEEDED", "cost": cost}}
        if not self.bucket.take(cost):
            return {"message": "Throttled", "extensions": {"code": "THROTTLED"}}
        return None

    def _execute(
        self,
        version: str,
        document: Any,
        operation: OperationDefinitionNode,
        variables: dict[str, Any],
        cost: int,
    ) -> dict[str, Any]:
        self.store.api_version = version
        name = operation.name.value if operation.name else None
        result = execute_sync(
            self.schema, document, self.store, variable_values=variables, operation_name=name
        )
        answer: dict[str, Any] = {"data": result.data}
        if result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        actual = cost if result.data is not None else 0
        if actual < cost:
            self.bucket.refund(cost)  # nothing ran
        answer["extensions"] = {"cost": self._cost(cost, actual)}
        return answer

    def _errors(self, errors: list[Any], requested: int = 0) -> dict[str, Any]:
        return {"errors": errors, "extensions": {"cost": self._cost(requested, None)}}

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": self.bucket.status(),
        }

    def _plain(
        self, version: str, status: int, body: Any, headers: dict[str, str] | None = None
    ) -> web.Response:
        self._record(_call(version, "", (), False, status))
        return web.json_response(body, status=status, headers=headers)

    def _record(self, call: ShopCall) -> None:
        self.calls.append(call)
        self.call_count += 1
        self.throttled += call.throttled


def _call(
    version: str, operation: str, fields: tuple[str, ...], throttled: bool, status: int = 200
) -> ShopCall:
    return ShopCall(time.monotonic(), version, operation, fields, status, throttled)


def demo_shop() -> FakeShopify:
    """The shop ``python -m sandbox.shopify PORT [--host HOST]`` serves: orders
    ``gid://shopify/Order/1`` … ``/100`` exist, unpaid, for the demo's payments to find."""
    shop = FakeShopify()
    for number in range(1, DEMO_ORDERS + 1):
        shop.store.seed_order(number)
    return shop


if __name__ == "__main__":
    main("A local stand-in of Shopify's Admin GraphQL API.", demo_shop)
