"""The connectors routes: status of every connector, pause and resume.

Status comes from what the running instances write (``connector_status``, about every
second), the sync log and the shared rate buckets. Pause and resume write
``connector_controls``; each running instance reads it every second and stops (or starts
again) consuming, a batch in delivery finishing first (:mod:`connectors.control`).
"""

from __future__ import annotations

from typing import Any

from admin.configured import tables, text
from admin.connectors import store
from admin.connectors.models import ConnectorStatus, PauseRequest
from admin.dead_letters.routes import is_name
from admin.errors import not_found
from admin.routing import Call, Reply, Route
from admin.state import POOL, SETTINGS

BASE = "/api/v1/connectors"


def _configured(call: Call) -> dict[str, str | None]:
    """Connector name -> destination type, as the connectors file declares them."""
    path = call.request.app[SETTINGS].connectors.config_file
    return {n: text(t, "destination", "type") for n, t in tables(path, "connectors").items()}


async def _status(call: Call, name: str, configured: dict[str, str | None]) -> dict[str, Any]:
    found = await store.status(call.request.app[POOL], name, configured.get(name))
    found["configured"] = name in configured
    return ConnectorStatus.model_validate(found).model_dump(mode="json")


async def list_connectors(call: Call) -> Reply:
    configured = _configured(call)
    names = sorted(set(configured) | await store.seen_names(call.request.app[POOL]))
    items = [await _status(call, name, configured) for name in names]
    return Reply(items, meta={"total": len(items)})


async def _known(call: Call) -> tuple[str, dict[str, str | None]]:
    name = call.path("name")
    call.audit_target = name[:200]
    configured = _configured(call)
    if is_name(name) and (
        name in configured or name in await store.seen_names(call.request.app[POOL])
    ):
        return name, configured
    raise not_found("connector")


async def get_connector(call: Call) -> Reply:
    name, configured = await _known(call)
    return Reply(await _status(call, name, configured))


async def _set(call: Call, paused: bool) -> Reply:
    name, configured = await _known(call)
    body: PauseRequest = call.body
    call.audit_detail = {"reason": body.reason}
    await store.set_paused(call.request.app[POOL], name, paused, body.reason, call.principal.actor)
    return Reply(await _status(call, name, configured))


async def pause_connector(call: Call) -> Reply:
    return await _set(call, True)


async def resume_connector(call: Call) -> Reply:
    return await _set(call, False)


ROUTES = [
    Route(
        "GET",
        BASE,
        "listConnectors",
        list_connectors,
        "viewer",
        list[ConnectorStatus],
        "Every connector (configured or seen running) with its status; not paginated.",
        "connectors",
    ),
    Route(
        "GET",
        BASE + "/{name}",
        "getConnector",
        get_connector,
        "viewer",
        ConnectorStatus,
        "One connector: breaker, lag, last batches, rate budget, paused, instances.",
        "connectors",
    ),
    Route(
        "POST",
        BASE + "/{name}/pause",
        "pauseConnector",
        pause_connector,
        "operator",
        ConnectorStatus,
        "Pause delivery: every instance stops consuming within about a second.",
        "connectors",
        body=PauseRequest,
        body_optional=True,
    ),
    Route(
        "POST",
        BASE + "/{name}/resume",
        "resumeConnector",
        resume_connector,
        "operator",
        ConnectorStatus,
        "Resume delivery (the records waiting are delivered, nothing is skipped).",
        "connectors",
        body=PauseRequest,
        body_optional=True,
    ),
]
