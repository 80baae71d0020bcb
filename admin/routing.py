"""One declarative table of routes: path, verb, role, input and output models.

The wrapper built from a :class:`Route` is the only way a handler is reached, so for
every route, in this order: the caller is authenticated (401) and its role checked
(403); its request rate is checked (429, :mod:`admin.ratelimit`); the query string and
the JSON body are validated against the route's models (400 malformed, 422 with one
error per field); the handler runs; the answer is wrapped
in the envelope; a mutating call (any verb but GET) is written to the audit trail, with
its outcome, before the answer leaves. The OpenAPI document reads the same table.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import orjson
from aiohttp import web
from pydantic import BaseModel, ValidationError

from admin import auth_store
from admin.audit import record_audit
from admin.auth import ANONYMOUS, Principal, Role, allows
from admin.envelope import ok
from admin.errors import ApiError, Problem
from admin.state import LIMITER, POOL, SIGNER
from schemas.text import nul_path


@dataclass(frozen=True, slots=True)
class Deprecation:
    """A route on its way out: answers carry ``Deprecation`` (RFC 9745), ``Sunset``
    (RFC 8594) and a ``Link`` to the successor."""

    since: str  # IMF-fixdate, e.g. "Wed, 01 Jul 2026 00:00:00 GMT"
    sunset: str
    successor: str

    def headers(self) -> dict[str, str]:
        return {
            "Deprecation": self.since,
            "Sunset": self.sunset,
            "Link": f'<{self.successor}>; rel="successor-version"',
        }


@dataclass(slots=True)
class Call:
    """What a handler gets: the request, who calls, validated inputs."""

    request: web.Request
    principal: Principal
    query: Any = None
    body: Any = None
    audit_target: str | None = None  # set by a handler: what the call acted on
    audit_detail: dict[str, Any] = field(default_factory=dict)

    def path(self, name: str) -> str:
        return self.request.match_info[name]


@dataclass(frozen=True, slots=True)
class Reply:
    data: Any
    status: int = 200
    meta: Mapping[str, Any] | None = None


Handler = Callable[[Call], Awaitable[Reply]]


@dataclass(frozen=True, slots=True)
class Route:
    method: str
    path: str
    operation: str
    handler: Handler
    role: Role | None  # None: public (no credentials)
    response: Any  # the type of "data" (a model, list[model], or None)
    summary: str
    tag: str
    query: type[BaseModel] | None = None
    body: type[BaseModel] | None = None
    status: int = 200
    paginated: bool = False
    body_optional: bool = False  # no body at all reads as {}
    deprecated: Deprecation | None = None

    @property
    def mutating(self) -> bool:
        return self.method != "GET"


def register(app: web.Application, routes: list[Route]) -> None:
    for route in routes:
        app.router.add_route(route.method, route.path, _wrap(route), name=route.operation)


def _wrap(route: Route) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
    async def handle(request: web.Request) -> web.StreamResponse:
        call = Call(request, ANONYMOUS)
        status = 500
        try:
            call.principal = await _authenticate(request, route)
            request.app[LIMITER].take(_client(request, call.principal))
            _refuse_nul(dict(request.match_info), "path")
            call.query = _validated(route.query, dict(request.query), "query")
            if route.body is not None:
                raw = await _json_body(request)
                if raw is None and route.body_optional:
                    raw = {}
                call.body = _validated(route.body, raw, "body")
            reply = await route.handler(call)
            status = reply.status
            response = ok(request, reply.data, status=reply.status, meta=dict(reply.meta or {}))
        except ApiError as exc:
            status = exc.status
            raise
        finally:
            if route.mutating:
                await record_audit(request, route.operation, call, status)
        if route.deprecated is not None:
            response.headers.update(route.deprecated.headers())
        return response

    return handle


async def _authenticate(request: web.Request, route: Route) -> Principal:
    if route.role is None:
        return ANONYMOUS
    principal = await principal_of(request)
    if not allows(principal.role, route.role):
        raise ApiError(403, "forbidden", f"this needs the {route.role} role or higher")
    return principal


def _client(request: web.Request, principal: Principal) -> str:
    if principal.kind == "anonymous":
        return f"address:{request.remote}"
    return principal.actor


async def principal_of(request: web.Request) -> Principal:
    key = request.headers.get("X-API-Key")
    if key:
        return await auth_store.key_principal(request.app[POOL], key)
    scheme, _, token = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() == "bearer" and token.strip():
        return request.app[SIGNER].verify(token.strip())
    raise ApiError(
        401,
        "unauthenticated",
        "send an access token (Authorization: Bearer) or an API key (X-API-Key)",
        headers={"WWW-Authenticate": 'Bearer realm="hookline-admin"'},
    )


async def _json_body(request: web.Request) -> Any:
    raw = await request.read()
    try:
        return orjson.loads(raw or b"null")
    except orjson.JSONDecodeError:
        raise ApiError(400, "malformed_json", "the body is not valid JSON") from None


def _refuse_nul(raw: Any, where: str) -> None:
    """422 for a NUL character anywhere in the input: PostgreSQL's text cannot hold one,
    so it would otherwise fail deep in a query (a 500) or in a connector later."""
    found = nul_path(raw)
    if found is not None:
        field = ".".join(part.replace("\x00", "\\u0000") for part in found) or where
        raise ApiError(422, "validation_error", "must not contain NUL characters", field=field)


def _validated(model: type[BaseModel] | None, raw: Any, where: str) -> Any:
    _refuse_nul(raw, where)
    if model is None:
        if where == "query" and raw:
            name = next(iter(raw))
            raise ApiError(422, "validation_error", "unknown query parameter", field=name)
        return None
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        problems = [
            Problem(
                "validation_error",
                str(e["msg"]),
                ".".join(str(part) for part in e["loc"]) or where,
            )
            for e in exc.errors(include_url=False, include_input=False)
        ]
        first, *more = problems
        raise ApiError(422, first.code, first.message, first.field, more=more) from None
