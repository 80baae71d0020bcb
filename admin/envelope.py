"""The envelope every answer has, errors included, and the models that describe it.

``{"status": "ok" | "error", "data": …, "errors": [{"code", "message", "field"?}],
"meta": {"request_id", "api_version", and for lists "total", "limit", "next_cursor",
"prev_cursor"}}``. The OpenAPI document is generated from these same models.
"""

from __future__ import annotations

from typing import Any, Generic, Literal, TypeVar

import orjson
from aiohttp import web
from pydantic import BaseModel, ConfigDict, Field

from admin.errors import Problem

API_VERSION = "1"
VERSION_HEADER = "Hookline-API-Version"
REQUEST_ID_HEADER = "X-Request-Id"

T = TypeVar("T")
REQUEST_ID = web.RequestKey("request_id", str)


class ErrorItem(BaseModel):
    model_config = ConfigDict(frozen=True)

    code: str = Field(description="Stable machine-readable code, e.g. validation_error.")
    message: str = Field(description="What went wrong, for people; never a traceback.")
    field: str | None = Field(None, description="The input at fault (dotted path), if one.")


class Meta(BaseModel):
    request_id: str = Field(description="This request's id (also the X-Request-Id header).")
    api_version: str = Field(API_VERSION, description="The API version that answered.")
    total: int | None = Field(None, description="Lists: items matching the filters.")
    limit: int | None = Field(None, description="Lists: the page size used.")
    next_cursor: str | None = Field(None, description="Lists: cursor of the next page.")
    prev_cursor: str | None = Field(None, description="Lists: cursor of the previous page.")


class Envelope(BaseModel, Generic[T]):
    status: Literal["ok"] = Field(description="ok: the request succeeded.")
    data: T = Field(description="The answer's payload.")
    errors: list[ErrorItem] = Field(default_factory=list, description="Always empty here.")
    meta: Meta


class ErrorEnvelope(BaseModel):
    status: Literal["error"] = Field(description="error: see errors.")
    data: None = Field(None, description="Always null on errors.")
    errors: list[ErrorItem] = Field(min_length=1, description="At least one error.")
    meta: Meta


def request_id(request: web.Request) -> str:
    return str(request.get(REQUEST_ID, ""))


def _meta(request: web.Request, extra: dict[str, Any] | None) -> dict[str, Any]:
    return {"request_id": request_id(request), "api_version": API_VERSION, **(extra or {})}


def ok(
    request: web.Request, data: Any, *, status: int = 200, meta: dict[str, Any] | None = None
) -> web.Response:
    body = {"status": "ok", "data": data, "errors": [], "meta": _meta(request, meta)}
    return _json(status, body)


def error(
    request: web.Request,
    status: int,
    problems: list[Problem],
    headers: dict[str, str] | None = None,
) -> web.Response:
    errors = [
        {"code": p.code, "message": p.message} | ({"field": p.field} if p.field else {})
        for p in problems
    ]
    body = {"status": "error", "data": None, "errors": errors, "meta": _meta(request, None)}
    response = _json(status, body)
    response.headers.update(headers or {})
    return response


def _json(status: int, body: dict[str, Any]) -> web.Response:
    return web.Response(status=status, body=orjson.dumps(body), content_type="application/json")
