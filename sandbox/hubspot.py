"""A local stand-in of HubSpot's CRM API, as strict as the documented one.

What it imitates, and where that comes from (HubSpot's OpenAPI documents in
``HubSpot/HubSpot-public-api-spec-collection``: CRM objects v3 ``contacts.json``,
associations v4, OAuth; HubSpot's API usage and error-handling guides, as condensed in
the project's destination reference notes):

- ``POST /crm/v3/objects/{contacts|companies|deals}/batch/upsert``: body
  ``{"inputs": [{"id", "idProperty", "properties": {string: string}, "objectWriteTraceId"?}]}``
  (``SimplePublicObjectBatchInputUpsert``); at most 100 inputs (the spec's ``maxItems``),
  else 400 ``VALIDATION_ERROR``; an ``idProperty`` that is not a unique property, a
  duplicate ID or a malformed body is a 400 for the whole batch. Inputs with invalid
  values (malformed email, unknown property, unknown deal stage) fail alone: 207 with
  ``errors[]`` (``StandardError``: ``status, category, message, errors[{message, code,
  context}], context``; ``context.ids`` names the inputs — an assumption, the spec leaves
  it open) and ``numErrors``; else 200 ``{status: COMPLETE, results: [{id, properties,
  createdAt, updatedAt, archived, new}], startedAt, completedAt}``. With
  ``whole_batch_validation`` it answers invalid inputs with one 400 for the batch, as
  HubSpot has been reported to do ("Property values were not valid: [...]").
- ``POST /crm/v3/objects/{type}`` (``SimplePublicObjectInputForCreate``): ``{"properties",
  "associations"?: [{"to": {"id"}, "types": [{"associationCategory": "HUBSPOT_DEFINED",
  "associationTypeId"}]}]}`` → 201 ``SimplePublicObject``. Notes (CRM v3 notes guide):
  ``hs_timestamp`` required, ``hs_note_body`` ≤ 65,536 characters; a note is associated
  with a contact by type 202. An unknown association type or record is a 400. Creating
  is not idempotent: a repeat is a second record.
- ``GET /crm/v3/objects/{type}?limit=``: the first records (the health probe's call).
- ``PATCH /crm/v3/objects/{type}/{id}`` (``?idProperty=`` for a unique property): 200
  ``SimplePublicObject``, 404 ``OBJECT_NOT_FOUND``.
- ``PUT /crm/v4/objects/{fromType}/{fromId}/associations/default/{toType}/{toId}``: the
  default (HubSpot-defined) association, both directions; 404 for an unknown record.
- ``POST /crm/v3/objects/{type}/search``: ``filterGroups`` (≤ 5; groups OR, filters
  AND; EQ, NEQ, LT, LTE, GT, GTE, IN, NOT_IN, HAS_PROPERTY, NOT_HAS_PROPERTY; dates as
  ISO 8601 or Unix ms), ``sorts`` (``[{propertyName, direction}]`` or ``"prop"`` /
  ``"-prop"``), ``after``, ``limit`` (≤ 200) → ``{total, results, paging.next.after}``.
- ``POST /oauth/v1/token``, form-encoded ``grant_type=refresh_token, client_id,
  client_secret, refresh_token`` → ``{access_token, refresh_token, expires_in,
  token_type: bearer}``; the refresh token rotates (the old one is refused with 400
  ``BAD_REFRESH_TOKEN``). CRM calls take ``Authorization: Bearer`` with the private-app
  token or an unexpired access token; anything else is 401 ``INVALID_AUTHENTICATION``
  (``EXPIRED_AUTHENTICATION`` for an expired one).
- Rate limit: ``rate_limit_max`` calls per rolling 10 s per token; every CRM answer
  carries ``X-HubSpot-RateLimit-Max``, ``-Remaining``, ``-Interval-Milliseconds``; over
  it, 429 ``{"status":"error","errorType":"RATE_LIMIT","policyName":
  "TEN_SECONDLY_ROLLING",…}``.
- Scripted faults (:class:`Reply`, a queue like :mod:`sandbox.destination_api`'s) are
  answered to the next CRM calls instead of processing them: 5xx, 429, 423, 477…

It counts every call and each record's *effective writes* (created or changed).
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import partial
from typing import Any

from aiohttp import web

from sandbox.hubspot_store import (
    ASSOCIATION_TYPES,
    KNOWN_PROPERTIES,
    UNIQUE_PROPERTIES,
    Invalid,
    Record,
    Store,
    comparable,
    iso,
    matches,
)
from sandbox.serving import KEPT, listen, main

PRIVATE_TOKEN = "pat-na1-sandbox"  # noqa: S105 - the stand-in's demo token, not a secret
CLIENT_ID = "sandbox-client"
CLIENT_SECRET = "sandbox-client-secret"  # noqa: S105 - demo value
REFRESH_TOKEN = "sandbox-refresh-0"  # noqa: S105 - demo value
Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]
MAX_INPUTS = 100
MAX_SEARCH_LIMIT = 200
WINDOW_SECONDS = 10.0


@dataclass(frozen=True)
class Reply:
    status: int = 500
    body: dict[str, Any] | None = None
    headers: dict[str, str] = field(default_factory=dict)
    retry_after: float | None = None


@dataclass(frozen=True)
class Call:
    method: str
    path: str
    status: int
    inputs: int  # batch inputs carried (0 for other calls)


class FakeHubSpot:
    def __init__(self, *, access_ttl_seconds: float = 1800, rate_limit_max: int = 190) -> None:
        self.private_token = PRIVATE_TOKEN
        self.access_ttl = access_ttl_seconds
        self.rate_limit_max = rate_limit_max
        self.whole_batch_validation = False
        self.store = Store()
        self.calls: deque[Call] = deque(maxlen=KEPT)  # the latest
        self.refresh_tokens = {REFRESH_TOKEN}
        self.access_tokens: dict[str, float] = {}  # token -> expiry (time.monotonic)
        self.refreshes = 0
        self._faults: deque[Reply] = deque()
        self._window: dict[str, deque[float]] = {}
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    # --- scripting and views -------------------------------------------------------------

    def script(self, *replies: Reply) -> None:
        """Answer the next CRM calls with these replies, in order."""
        self._faults.extend(replies)

    def expire_access_tokens(self) -> None:
        self.access_tokens = dict.fromkeys(self.access_tokens, 0.0)

    def record(self, kind: str, ident: str, by: str | None = None) -> dict[str, str] | None:
        found = self.store.find(kind, ident, by)
        return dict(found.properties) if found else None

    def writes(self, kind: str, ident: str, by: str | None = None) -> int:
        found = self.store.find(kind, ident, by)
        return self.store.effective_writes[(kind, found.id)] if found else 0

    @property
    def total_effective_writes(self) -> int:
        return sum(self.store.effective_writes.values())

    # --- lifecycle -----------------------------------------------------------------------

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        app = web.Application(middlewares=[self._guard])
        app.router.add_post("/oauth/v1/token", self._token)
        app.router.add_post("/crm/v3/objects/{type}/batch/upsert", self._batch_upsert)
        app.router.add_post("/crm/v3/objects/{type}/search", self._search)
        app.router.add_get("/crm/v3/objects/{type}", self._list)
        app.router.add_post("/crm/v3/objects/{type}", self._create)
        app.router.add_patch("/crm/v3/objects/{type}/{id}", self._patch)
        path = "/crm/v4/objects/{from}/{from_id}/associations/default/{to}/{to_id}"
        app.router.add_put(path, self._associate)
        self._runner, self.base_url = await listen(app, port, host)
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    # --- auth, rate limit, faults: before any CRM handler --------------------------------

    @web.middleware
    async def _guard(self, request: web.Request, handler: Handler) -> web.StreamResponse:
        if not request.path.startswith("/crm/"):
            return await handler(request)
        token = request.headers.get("Authorization", "").removeprefix("Bearer ")
        problem = self._auth_problem(token)
        if problem is not None:
            return self._answer(request, 401, _error(problem[1], problem[0]))
        headers = self._rate_headers(token)
        if headers["X-HubSpot-RateLimit-Remaining"] == "-1":
            headers["X-HubSpot-RateLimit-Remaining"] = "0"
            body = _error("You have reached your ten_secondly_rolling limit.", None)
            body.update(errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING")
            return self._answer(request, 429, body, headers)
        if self._faults:
            reply = self._faults.popleft()
            extra = dict(reply.headers)
            if reply.retry_after is not None:
                extra["Retry-After"] = f"{reply.retry_after:g}"
            body = reply.body or _error(f"scripted {reply.status}", "SCRIPTED")
            return self._answer(request, reply.status, body, {**headers, **extra})
        response = await handler(request)
        response.headers.update(headers)
        return response

    def _auth_problem(self, token: str) -> tuple[str, str] | None:
        if token == self.private_token:
            return None
        expiry = self.access_tokens.get(token)
        if expiry is None:
            return "INVALID_AUTHENTICATION", "Authentication credentials not found."
        if expiry <= time.monotonic():
            return "EXPIRED_AUTHENTICATION", "The OAuth token used to make this call expired."
        return None

    def _rate_headers(self, token: str) -> dict[str, str]:
        now = time.monotonic()
        window = self._window.setdefault(token, deque())
        while window and window[0] <= now - WINDOW_SECONDS:
            window.popleft()
        remaining = self.rate_limit_max - len(window) - 1
        if remaining >= 0:
            window.append(now)
        return {
            "X-HubSpot-RateLimit-Max": str(self.rate_limit_max),
            "X-HubSpot-RateLimit-Remaining": str(max(remaining, -1)),
            "X-HubSpot-RateLimit-Interval-Milliseconds": str(int(WINDOW_SECONDS * 1000)),
        }

    def _answer(
        self,
        request: web.Request,
        status: int,
        body: dict[str, Any],
        headers: dict[str, str] | None = None,
        inputs: int = 0,
    ) -> web.Response:
        self.calls.append(Call(request.method, request.path, status, inputs))
        return web.json_response(body, status=status, headers=headers)

    # --- OAuth ---------------------------------------------------------------------------

    async def _token(self, request: web.Request) -> web.Response:
        form = await request.post()
        if form.get("grant_type") != "refresh_token":
            return self._answer(request, 400, _oauth_error("BAD_GRANT_TYPE", "unsupported"))
        if form.get("client_id") != CLIENT_ID or form.get("client_secret") != CLIENT_SECRET:
            return self._answer(request, 400, _oauth_error("BAD_CLIENT_ID", "bad client"))
        old = str(form.get("refresh_token", ""))
        if old not in self.refresh_tokens:
            message = "missing or unknown refresh token"
            return self._answer(request, 400, _oauth_error("BAD_REFRESH_TOKEN", message))
        self.refresh_tokens.discard(old)  # rotation: the old refresh token is spent
        refresh, access = secrets.token_urlsafe(16), secrets.token_urlsafe(24)
        self.refresh_tokens.add(refresh)
        self.access_tokens[access] = time.monotonic() + self.access_ttl
        self.refreshes += 1
        body = {
            "access_token": access,
            "refresh_token": refresh,
            "expires_in": int(self.access_ttl),
            "token_type": "bearer",
        }
        return self._answer(request, 200, body)

    # --- CRM objects ---------------------------------------------------------------------

    async def _batch_upsert(self, request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        body = await _json(request)
        inputs = body.get("inputs") if kind in KNOWN_PROPERTIES else None
        problem = _batch_problem(kind, inputs)
        if problem is not None:
            return self._answer(request, 400, _error(problem, "VALIDATION_ERROR"))
        assert isinstance(inputs, list)  # noqa: S101 - checked by _batch_problem
        started = iso(datetime.now(UTC))
        invalid = self._invalid_inputs(kind, inputs)
        if invalid and self.whole_batch_validation:
            details = [{"isValid": False, "message": e.message, "error": e.code, "name": e.property}
                       for e in invalid.values()]  # fmt: skip
            message = f"Property values were not valid: {details}"
            return self._answer(
                request, 400, _error(message, "VALIDATION_ERROR"), inputs=len(inputs)
            )
        results = []
        for item in inputs:
            if item["id"] not in invalid:
                record, new = self.store.upsert(
                    kind, item["id"], item["idProperty"], item["properties"]
                )
                results.append(record.view(new))
        answer: dict[str, Any] = {"status": "COMPLETE", "results": results, "startedAt": started,
                                  "completedAt": iso(datetime.now(UTC))}  # fmt: skip
        if invalid:
            answer["numErrors"] = len(invalid)
            answer["errors"] = [_input_error(ident, e) for ident, e in invalid.items()]
        return self._answer(request, 207 if invalid else 200, answer, inputs=len(inputs))

    def _invalid_inputs(self, kind: str, inputs: list[dict[str, Any]]) -> dict[str, Invalid]:
        invalid = {}
        for item in inputs:
            try:
                self.store.validate(kind, {item["idProperty"]: item["id"], **item["properties"]})
            except Invalid as error:
                invalid[item["id"]] = error
        return invalid

    async def _create(self, request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        body = await _json(request)
        properties = body.get("properties")
        if kind not in KNOWN_PROPERTIES or not isinstance(properties, dict):
            return self._answer(request, 400, _error("Invalid input JSON", "VALIDATION_ERROR"))
        if kind == "notes" and "hs_timestamp" not in properties:
            message = "hs_timestamp is required"
            return self._answer(request, 400, _error(message, "VALIDATION_ERROR"))
        try:
            self.store.validate(kind, properties)
            edges = self._association_targets(kind, body.get("associations") or [])
        except Invalid as error:
            return self._answer(request, 400, _error(error.message, "VALIDATION_ERROR"))
        record = self.store.create(kind, properties)
        for to_type, to_id in edges:
            self.store.associate(kind, record.id, to_type, to_id)
        return self._answer(request, 201, record.view())

    def _association_targets(self, kind: str, associations: Any) -> list[tuple[str, str]]:
        """(type, id) of each association to create; Invalid for an unknown type or record."""
        by_type_id = {t: to for (src, to), t in ASSOCIATION_TYPES.items() if src == kind}
        targets = []
        items: list[Any] = associations if isinstance(associations, list) else [None]
        for item in items:
            try:
                to_id = str(item["to"]["id"])
                to_type = by_type_id[int(item["types"][0]["associationTypeId"])]
            except (KeyError, IndexError, TypeError, ValueError):
                bad = Invalid("invalid association", "INVALID_ASSOCIATION", "associations")
                raise bad from None
            if self.store.find(to_type, to_id, None) is None:
                raise Invalid(f"{to_type} {to_id} not found", "OBJECT_NOT_FOUND", "associations")
            targets.append((to_type, to_id))
        return targets

    async def _patch(self, request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        body = await _json(request)
        properties = body.get("properties")
        if kind not in KNOWN_PROPERTIES or not isinstance(properties, dict):
            return self._answer(request, 400, _error("Invalid input JSON", "VALIDATION_ERROR"))
        record = self.store.find(kind, request.match_info["id"], request.query.get("idProperty"))
        if record is None:
            return self._answer(request, 404, _error("resource not found", "OBJECT_NOT_FOUND"))
        try:
            self.store.validate(kind, properties)
        except Invalid as error:
            return self._answer(request, 400, _error(error.message, "VALIDATION_ERROR"))
        self.store.write(kind, record, properties)
        return self._answer(request, 200, record.view())

    async def _associate(self, request: web.Request) -> web.Response:
        info = request.match_info
        type_id = ASSOCIATION_TYPES.get((info["from"], info["to"]))
        ends = [
            self.store.find(info[t], info[i], None)
            for t, i in (("from", "from_id"), ("to", "to_id"))
        ]
        if type_id is None or None in ends:
            return self._answer(request, 404, _error("resource not found", "OBJECT_NOT_FOUND"))
        self.store.associate(info["from"], info["from_id"], info["to"], info["to_id"])
        now = iso(datetime.now(UTC))
        spec = {"associationCategory": "HUBSPOT_DEFINED", "associationTypeId": type_id}
        result = {
            "from": {"id": info["from_id"]},
            "to": {"id": info["to_id"]},
            "associationSpec": spec,
        }
        answer = {"status": "COMPLETE", "results": [result], "startedAt": now, "completedAt": now}
        return self._answer(request, 200, answer)

    async def _search(self, request: web.Request) -> web.Response:
        kind = request.match_info["type"]
        body = await _json(request)
        limit, after = body.get("limit", 10), int(body.get("after") or 0)
        groups = body.get("filterGroups") or []
        if (
            kind not in KNOWN_PROPERTIES
            or not isinstance(limit, int)
            or not 0 < limit <= MAX_SEARCH_LIMIT
        ):
            return self._answer(request, 400, _error("limit must be 1..200", "VALIDATION_ERROR"))
        if len(groups) > 5:
            return self._answer(request, 400, _error("at most 5 filterGroups", "VALIDATION_ERROR"))
        records = [
            r
            for r in self.store.records[kind].values()
            if not groups or any(matches(r, g.get("filters") or []) for g in groups)
        ]
        for name, descending in reversed(_sorts(body.get("sorts") or [])):
            records.sort(key=partial(_sort_key, name), reverse=descending)  # stable: multi-key
        page = records[after : after + limit]
        answer: dict[str, Any] = {"total": len(records), "results": [r.view() for r in page]}
        if after + limit < len(records):
            answer["paging"] = {"next": {"after": str(after + limit)}}
        return self._answer(request, 200, answer)

    async def _list(self, request: web.Request) -> web.Response:
        """``GET /crm/v3/objects/{type}?limit=`` (1-100, default 10): the first records,
        ``{"results": [...]}`` (the health probe's call)."""
        kind = request.match_info["type"]
        try:
            limit = int(request.query.get("limit", "10"))
        except ValueError:
            limit = 0
        if kind not in KNOWN_PROPERTIES or not 0 < limit <= 100:
            return self._answer(request, 400, _error("limit must be 1..100", "VALIDATION_ERROR"))
        records = list(self.store.records[kind].values())[:limit]
        return self._answer(request, 200, {"results": [r.view() for r in records]})


def _batch_problem(kind: str, inputs: Any) -> str | None:
    if not isinstance(inputs, list) or not inputs:
        return "Invalid input JSON: inputs must be a non-empty array"
    if len(inputs) > MAX_INPUTS:
        return f"inputs: size must be between 1 and {MAX_INPUTS}"
    problems = (_input_problem(kind, item) for item in inputs)
    problem = next((p for p in problems if p is not None), None)
    if problem is not None:
        return problem
    ids = [(item["idProperty"], item["id"].lower()) for item in inputs]
    return "Duplicate IDs found in batch input" if len(set(ids)) != len(ids) else None


def _input_problem(kind: str, item: Any) -> str | None:
    if not isinstance(item, dict) or not isinstance(item.get("id"), str):
        return "Invalid input JSON: each input needs an id"
    if not isinstance(item.get("properties"), dict):
        return "Invalid input JSON: each input needs properties"
    if item.get("idProperty") not in UNIQUE_PROPERTIES[kind]:
        return f"Unable to perform upsert by non-unique property {item.get('idProperty')!r}"
    return None


def _sort_key(name: str, record: Record) -> Any:
    return comparable(name, record.properties.get(name, ""))


def _sorts(sorts: list[Any]) -> list[tuple[str, bool]]:
    out = []
    for sort in sorts:
        if isinstance(sort, str):
            out.append((sort.lstrip("-"), sort.startswith("-")))
        else:
            out.append((sort["propertyName"], sort.get("direction") == "DESCENDING"))
    return out


def _error(message: str, category: str | None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "status": "error",
        "message": message,
        "correlationId": str(uuid.uuid4()),
    }
    if category:
        body["category"] = category
    return body


def _input_error(ident: str, error: Invalid) -> dict[str, Any]:
    detail = {
        "message": error.message,
        "code": error.code,
        "context": {"propertyName": [error.property]},
    }
    return {"status": "error", "category": "VALIDATION_ERROR", "message": error.message,
            "context": {"ids": [ident]}, "errors": [detail]}  # fmt: skip


def _oauth_error(status: str, message: str) -> dict[str, Any]:
    return {"status": status, "message": message, "correlationId": str(uuid.uuid4())}


async def _json(request: web.Request) -> dict[str, Any]:
    try:
        body = await request.json()
    except ValueError:
        return {}
    return body if isinstance(body, dict) else {}


if __name__ == "__main__":
    main("A local stand-in of HubSpot's CRM API.", FakeHubSpot)
