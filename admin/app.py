"""The admin API application: ``create_app(settings)`` builds everything, nothing is
built at import.

Every answer, including 404, 405, 413 and 500, is the envelope of
:mod:`admin.envelope`, carries ``X-Request-Id`` (the caller's, when it is a sane one, else
a new one) and ``Hookline-API-Version``. A request may pin a version with the
``Hookline-API-Version`` header; an unknown one is a 400 ``unsupported_api_version``.
"""

from __future__ import annotations

import asyncio
import re
import threading
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

from aiohttp import web
from pydantic import BaseModel, Field

from admin import auth_routes, conflicts, events, ingress_counts, sources, sync_runs
from admin.auth import TokenSigner
from admin.connectors import routes as connector_routes
from admin.dead_letters import routes as dead_letter_routes
from admin.dead_letters.indexer import DeadLetterIndexer
from admin.envelope import API_VERSION, REQUEST_ID, REQUEST_ID_HEADER, VERSION_HEADER, error
from admin.errors import ApiError, Problem
from admin.openapi import build
from admin.ratelimit import ClientLimiter
from admin.replay_jobs import routes as replay_job_routes
from admin.replay_jobs.worker import ReplayJobWorker
from admin.routing import Call, Reply, Route, register
from admin.state import INGRESS_COUNTS, LIMITER, POOL, SETTINGS, SIGNER
from hookline.db import create_pool
from hookline.logs import get_logger
from hookline.outages import DISPLAY_NAMES, unavailable_dependency
from hookline.settings import Settings

SUPPORTED_VERSIONS = frozenset({API_VERSION})
RETRY_AFTER_SECONDS = 5  # a 503's hint: PostgreSQL or Kafka unreachable for now
_SANE_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")
_CODES = {
    400: "bad_request",
    404: "not_found",
    405: "method_not_allowed",
    408: "request_timeout",
    413: "body_too_large",
}
OPENAPI = web.AppKey("openapi", dict)


async def health(call: Call) -> Reply:
    return Reply({"status": "ok"})


class HealthStatus(BaseModel):
    status: str = Field(description="ok")


def all_routes() -> list[Route]:
    meta = [
        Route(
            "GET",
            "/api/v1/health",
            "health",
            health,
            None,
            HealthStatus,
            "Liveness: the service answers.",
            "meta",
        ),
    ]
    return [
        *meta,
        *auth_routes.ROUTES,
        *replay_job_routes.ROUTES,
        *dead_letter_routes.ROUTES,
        *connector_routes.ROUTES,
        *sync_runs.ROUTES,
        *sources.ROUTES,
        *events.ROUTES,
        *conflicts.ROUTES,
    ]


@web.middleware
async def envelope_middleware(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    incoming = request.headers.get(REQUEST_ID_HEADER, "")
    rid = incoming if _SANE_REQUEST_ID.match(incoming) else uuid.uuid4().hex
    request[REQUEST_ID] = rid
    try:
        _check_version(request)
        response = await handler(request)
    except ApiError as exc:
        response = error(request, exc.status, exc.problems, dict(exc.headers))
    except web.HTTPException as exc:
        code = _CODES.get(exc.status, "http_error")
        keep = {k: v for k, v in exc.headers.items() if k in ("Allow", "Retry-After")}
        response = error(request, exc.status, [Problem(code, exc.reason)], keep)
    except Exception as exc:  # the boundary: a class name in the log, no traceback anywhere
        response = _unexpected(request, exc, rid)
    response.headers[REQUEST_ID_HEADER] = rid
    response.headers[VERSION_HEADER] = API_VERSION
    return response


def _unexpected(request: web.Request, exc: Exception, rid: str) -> web.Response:
    """503 with Retry-After when PostgreSQL or Kafka cannot be reached for now (the
    client may try again; a console can say so), else 500."""
    dependency = unavailable_dependency(exc)
    log = get_logger("hookline.admin")
    if dependency is None:
        log.error("request failed", error=type(exc).__name__, path=request.path, request_id=rid)
        return error(request, 500, [Problem("internal_error", "internal error")])
    log.warning(
        "request failed: dependency unreachable",
        dependency=dependency,
        error=type(exc).__name__,
        path=request.path,
        request_id=rid,
    )
    message = f"{DISPLAY_NAMES[dependency]} is unreachable for now; try again"
    retry = {"Retry-After": str(RETRY_AFTER_SECONDS)}
    return error(request, 503, [Problem("unavailable", message)], retry)


def _check_version(request: web.Request) -> None:
    version = request.headers.get(VERSION_HEADER)
    if version is not None and version.strip() not in SUPPORTED_VERSIONS:
        raise ApiError(
            400,
            "unsupported_api_version",
            f"unsupported {VERSION_HEADER} {version[:20]!r}; supported: {API_VERSION}",
            field=VERSION_HEADER,
        )


async def openapi_document(request: web.Request) -> web.Response:
    return web.json_response(request.app[OPENAPI])


def create_app(settings: Settings, *, index_dead_letters: bool | None = None) -> web.Application:
    """The admin application. ``index_dead_letters`` overrides the setting (tests)."""
    app = web.Application(
        middlewares=[envelope_middleware], client_max_size=settings.admin.max_body_bytes
    )
    app[SETTINGS] = settings
    app[SIGNER] = TokenSigner(
        settings.admin.jwt_secret.get_secret_value(), settings.admin.access_token_seconds
    )
    wait = settings.admin.database_wait_seconds  # a request's wait, not a worker's
    app[POOL] = create_pool(settings.postgres, autocommit=True, timeout=wait, checked=True)
    app[LIMITER] = ClientLimiter(settings.admin.rate_per_second, settings.admin.rate_burst)
    app[INGRESS_COUNTS] = ingress_counts.IngressCounts(list(settings.admin.ingress_metrics_urls))
    routes = all_routes()
    app[OPENAPI] = build(routes, "Hookline admin API", API_VERSION)
    register(app, routes)
    app.router.add_get("/api/v1/openapi.json", openapi_document)
    app.cleanup_ctx.append(_pool)
    app.cleanup_ctx.append(_replay_jobs)
    indexing = (
        settings.admin.index_dead_letters if index_dead_letters is None else index_dead_letters
    )
    if indexing:
        app.cleanup_ctx.append(_indexer)
    if app[INGRESS_COUNTS].configured:
        app.cleanup_ctx.append(_ingress_sampler)
    return app


async def _ingress_sampler(app: web.Application) -> AsyncIterator[None]:
    stop = asyncio.Event()
    interval = app[SETTINGS].admin.ingress_scrape_seconds
    task = asyncio.create_task(ingress_counts.run(app[INGRESS_COUNTS], interval, stop))
    yield
    stop.set()
    await task


async def _pool(app: web.Application) -> AsyncIterator[None]:
    await app[POOL].open()
    yield
    await app[POOL].close()


async def _replay_jobs(app: web.Application) -> AsyncIterator[None]:
    """The bulk-replay worker: a stopping service finishes its chunk and releases the job."""
    stop = asyncio.Event()
    task = asyncio.create_task(ReplayJobWorker(app[SETTINGS], app[POOL]).run(stop))
    yield
    stop.set()
    await task


async def _indexer(app: web.Application) -> AsyncIterator[None]:
    stop = threading.Event()
    task: asyncio.Task[Any] = asyncio.create_task(
        asyncio.to_thread(DeadLetterIndexer(app[SETTINGS]).run, stop)
    )
    yield
    stop.set()
    await task
