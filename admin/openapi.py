"""The OpenAPI 3.1 document, generated from the route table and the same pydantic models
the handlers validate and answer with (pydantic's JSON Schema is OpenAPI 3.1's dialect).

Every operation lists its success envelope, the error envelope for 400/401/403/404/409/
422/429/500/503, its security (JWT bearer or API key; none for public routes), its query
parameters (one per field of its query model) and its request body.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from admin.envelope import REQUEST_ID_HEADER, VERSION_HEADER, Envelope, ErrorEnvelope
from admin.routing import Route

REF = "#/components/schemas/{model}"
SECURITY_SCHEMES = {
    "bearerJWT": {
        "type": "http",
        "scheme": "bearer",
        "bearerFormat": "JWT",
        "description": "A person's access token from POST /api/v1/auth/login (15 minutes).",
    },
    "apiKey": {
        "type": "apiKey",
        "in": "header",
        "name": "X-API-Key",
        "description": "A service's API key (hlk_…), created by an admin.",
    },
}
_ERRORS = {
    "400": "Malformed request, invalid cursor or unsupported API version.",
    "401": "Missing, invalid, expired or revoked credentials.",
    "403": "The caller's role may not do this.",
    "404": "Not found.",
    "409": "Conflicts with the resource's state.",
    "422": "Validation failed; one error per field.",
    "429": "Over the client's request rate; see Retry-After.",
    "500": "Internal error (never a traceback).",
    "503": "PostgreSQL or Kafka unreachable for now; nothing was changed; see Retry-After.",
}


def _envelope(route: Route) -> type[BaseModel]:
    return Envelope[route.response]  # type: ignore[name-defined]


def build(routes: list[Route], title: str, version: str) -> dict[str, Any]:
    models: list[type[BaseModel]] = [ErrorEnvelope]
    models += [_envelope(r) for r in routes]
    models += [m for r in routes for m in (r.body, r.query) if m is not None]
    keyed, schema = models_json_schema(
        [
            (
                m,
                "serialization"
                if m in (ErrorEnvelope,) or m.__name__.startswith("Envelope")
                else "validation",
            )
            for m in dict.fromkeys(models)
        ],
        ref_template=REF,
    )
    components = schema.get("$defs", {})
    paths: dict[str, dict[str, Any]] = {}
    for route in routes:
        ref = keyed[(_envelope(route), "serialization")]
        paths.setdefault(route.path, {})[route.method.lower()] = _operation(
            route, ref, components, keyed
        )
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version},
        "servers": [{"url": "/"}],
        "paths": paths,
        "components": {"schemas": components, "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(
    route: Route, ok_ref: dict[str, Any], components: dict[str, Any], keyed: Any
) -> dict[str, Any]:
    error_ref = {"$ref": REF.format(model="ErrorEnvelope")}
    responses: dict[str, Any] = {
        str(route.status): {
            "description": "Success.",
            "headers": _response_headers(route),
            "content": {"application/json": {"schema": ok_ref}},
        }
    }
    for code, text in _ERRORS.items():
        if route.role is None and (code == "403" or (code == "401" and route.tag != "auth")):
            continue  # public; the sign-in routes do answer 401 (bad password, token)
        responses[code] = {
            "description": text,
            "content": {"application/json": {"schema": error_ref}},
        }
    operation: dict[str, Any] = {
        "operationId": route.operation,
        "summary": route.summary,
        "tags": [route.tag],
        "parameters": [
            *_path_parameters(route),
            *_query_parameters(route, components, keyed),
            _version_parameter(),
        ],
        "responses": responses,
        "security": [] if route.role is None else [{"bearerJWT": []}, {"apiKey": []}],
    }
    if route.role is not None:
        operation["description"] = f"Needs the {route.role} role or higher."
    if route.body is not None:
        operation["requestBody"] = {
            "required": not route.body_optional,
            "content": {"application/json": {"schema": keyed[(route.body, "validation")]}},
        }
    if route.deprecated is not None:
        operation["deprecated"] = True
    return operation


def _response_headers(route: Route) -> dict[str, Any]:
    headers = {
        REQUEST_ID_HEADER: {"schema": {"type": "string"}, "description": "This request's id."},
        VERSION_HEADER: {"schema": {"type": "string"}, "description": "Version that answered."},
    }
    if route.deprecated is not None:
        for name in ("Deprecation", "Sunset", "Link"):
            headers[name] = {
                "schema": {"type": "string"},
                "description": f"{name} (RFC 8594/9745).",
            }
    return headers


def _path_parameters(route: Route) -> list[dict[str, Any]]:
    return [
        {
            "name": name,
            "in": "path",
            "required": True,
            "schema": {"type": "string", "maxLength": 300},
        }
        for name in re.findall(r"{(\w+)}", route.path)
    ]


def _query_parameters(route: Route, components: dict[str, Any], keyed: Any) -> list[dict[str, Any]]:
    if route.query is None:
        return []
    ref = keyed[(route.query, "validation")]["$ref"].rsplit("/", 1)[-1]
    model = components[ref]
    required = set(model.get("required", []))
    return [
        {
            "name": name,
            "in": "query",
            "required": name in required,
            "description": schema.get("description", ""),
            "schema": {k: v for k, v in schema.items() if k not in ("description", "title")},
        }
        for name, schema in model.get("properties", {}).items()
        if schema.get("type") != "null"
    ]


def _version_parameter() -> dict[str, Any]:
    return {
        "name": VERSION_HEADER,
        "in": "header",
        "required": False,
        "description": "Pin the API version; an unknown one answers 400.",
        "schema": {"type": "string", "enum": ["1"]},
    }
