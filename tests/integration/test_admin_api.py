"""The admin API: envelopes everywhere, versions, the OpenAPI document, roles per route,
tokens and keys, the audit trail."""

from __future__ import annotations

import re
import time
from urllib.parse import quote

import jwt
import psycopg
import pytest

from admin.app import all_routes
from admin.auth import ROLES, allows
from tests.integration.admin_fixtures import JWT_SECRET, Admin, admin_api, admin_config

__all__ = ["admin_api", "admin_config"]


def concrete(path: str) -> str:
    return re.sub(r"{id}", "t.raw.webhooks.dlq:0:1", path).replace("{name}", "crm")


async def test_every_route_enforces_its_role(admin_api: Admin) -> None:
    """Each route x (no credentials, viewer, operator, admin): 401, 403 or let through."""
    wrong = []
    for route in all_routes():
        for role in (None, *ROLES):
            answer = await admin_api.client.request(
                route.method, concrete(route.path), headers=admin_api.as_role(role), json={}
            )
            if route.role is None:
                expected_refusal = None
            elif role is None:
                expected_refusal = 401
            else:
                expected_refusal = None if allows(role, route.role) else 403
            body = await answer.json()
            refused = answer.status if answer.status in (401, 403) else None
            if route.role is not None and refused != expected_refusal:
                wrong.append((route.operation, role, answer.status))
            assert set(body) == {"status", "data", "errors", "meta"}
    assert wrong == []


async def test_unknown_route_method_and_version_answer_envelopes(admin_api: Admin) -> None:
    client = admin_api.client
    missing = await client.get("/api/v1/nothing-here")
    assert missing.status == 404
    assert (await missing.json())["errors"][0]["code"] == "not_found"
    wrong_verb = await client.delete("/api/v1/health")
    assert wrong_verb.status == 405
    assert (await wrong_verb.json())["status"] == "error"
    pinned = await client.get("/api/v1/health", headers={"Hookline-API-Version": "1"})
    assert pinned.status == 200
    assert pinned.headers["Hookline-API-Version"] == "1"
    unknown = await client.get("/api/v1/health", headers={"Hookline-API-Version": "7"})
    assert unknown.status == 400
    assert (await unknown.json())["errors"][0]["code"] == "unsupported_api_version"
    echoed = await client.get("/api/v1/health", headers={"X-Request-Id": "abc-123"})
    assert echoed.headers["X-Request-Id"] == "abc-123"
    assert (await echoed.json())["meta"]["request_id"] == "abc-123"


async def test_malformed_and_invalid_bodies_are_400_and_422(admin_api: Admin) -> None:
    client = admin_api.client
    malformed = await client.post("/api/v1/auth/login", data=b"{not json")
    assert malformed.status == 400
    invalid = await client.post("/api/v1/auth/login", json={"username": ""})
    assert invalid.status == 422
    fields = {e["field"] for e in (await invalid.json())["errors"]}
    assert fields == {"username", "password"}


async def test_openapi_document_describes_every_route(admin_api: Admin) -> None:
    answer = await admin_api.client.get("/api/v1/openapi.json")
    document = await answer.json()
    assert document["openapi"] == "3.1.0"
    assert set(document["components"]["securitySchemes"]) == {"bearerJWT", "apiKey"}
    assert "ErrorEnvelope" in document["components"]["schemas"]
    operations = {
        op["operationId"]: op for path in document["paths"].values() for op in path.values()
    }
    assert set(operations) == {r.operation for r in all_routes()}
    listing = operations["listDeadLetters"]
    assert {p["name"] for p in listing["parameters"]} >= {"topic", "limit", "cursor"}
    assert listing["responses"]["401"]["content"]["application/json"]["schema"] == {
        "$ref": "#/components/schemas/ErrorEnvelope"
    }
    assert operations["listDeadLettersOld"]["deprecated"] is True


async def test_deprecated_route_names_its_successor(admin_api: Admin) -> None:
    answer = await admin_api.client.get("/api/v1/dlq", headers=admin_api.as_role("viewer"))
    assert answer.status == 200
    assert answer.headers["Deprecation"].startswith("@")
    assert "Sunset" in answer.headers
    assert answer.headers["Link"] == '</api/v1/dead-letters>; rel="successor-version"'


def _forged(claims: dict[str, object], secret: str = JWT_SECRET) -> dict[str, str]:
    base = {"iss": "hookline-admin", "sub": "1", "role": "admin", "typ": "access"}
    now = int(time.time())
    token = jwt.encode(base | {"iat": now, "exp": now + 60} | claims, secret, algorithm="HS256")
    return {"Authorization": f"Bearer {token}"}


async def test_tampered_expired_and_revoked_credentials_are_rejected(admin_api: Admin) -> None:
    client = admin_api.client
    tokens = await admin_api.login()
    good = {"Authorization": f"Bearer {tokens['access_token']}"}
    assert (await client.get("/api/v1/me", headers=good)).status == 200
    head, payload, signature = str(tokens["access_token"]).split(".")
    tampered = {"Authorization": f"Bearer {head}.{payload}x.{signature}"}
    rejected = [
        tampered,
        _forged({}, secret="y" * 40),
        _forged({"exp": int(time.time()) - 1}),
        _forged({"typ": "refresh"}),
        {"Authorization": "Bearer " + jwt.encode({"sub": "1"}, JWT_SECRET, algorithm="HS256")},
        {"X-API-Key": admin_api.keys["admin"] + "x"},
    ]
    for headers in rejected:
        answer = await client.get("/api/v1/me", headers=headers)
        assert answer.status == 401, headers
        assert (await answer.json())["errors"][0]["code"] == "invalid_token"
    viewer = admin_api.as_role("viewer")
    assert (await client.get("/api/v1/me", headers=viewer)).status == 200
    key_id = (await (await client.get("/api/v1/me", headers=viewer)).json())["data"]["id"]
    revoked = await client.delete(f"/api/v1/api-keys/{key_id}", headers=good)
    assert revoked.status == 200
    assert (await client.get("/api/v1/me", headers=viewer)).status == 401
    with psycopg.connect(admin_api.settings.postgres.conninfo(), autocommit=True) as conn:
        conn.execute("UPDATE admin_api_keys SET expires_at = now() WHERE name = 'operator-key'")
        used = conn.execute(
            "SELECT last_used_at FROM admin_api_keys WHERE name = 'viewer-key'"
        ).fetchone()
    assert used is not None
    assert used[0] is not None
    assert (await client.get("/api/v1/me", headers=admin_api.as_role("operator"))).status == 401


async def test_refresh_token_used_twice_revokes_its_family(admin_api: Admin) -> None:
    client = admin_api.client
    first = await admin_api.login()
    rotated = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert rotated.status == 200
    second = (await rotated.json())["data"]
    assert second["refresh_token"] != first["refresh_token"]
    reused = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": first["refresh_token"]}
    )
    assert reused.status == 401
    assert (await reused.json())["errors"][0]["code"] == "refresh_token_reused"
    # the family is revoked: the newest token, never used, no longer works either
    after = await client.post(
        "/api/v1/auth/refresh", json={"refresh_token": second["refresh_token"]}
    )
    assert after.status == 401
    other_session = await admin_api.login()
    assert (
        await client.post(
            "/api/v1/auth/refresh", json={"refresh_token": other_session["refresh_token"]}
        )
    ).status == 200


async def test_wrong_password_is_401_and_audited(admin_api: Admin) -> None:
    answer = await admin_api.client.post(
        "/api/v1/auth/login", json={"username": "ada", "password": "wrong password"}
    )
    assert answer.status == 401
    with psycopg.connect(admin_api.settings.postgres.conninfo()) as conn:
        row = conn.execute(
            "SELECT actor, target, status, remote FROM admin_audit WHERE action = 'login'"
        ).fetchone()
    assert row == ("anonymous", "ada", 401, "127.0.0.1")


async def test_mutating_calls_are_audited_with_their_actor(admin_api: Admin) -> None:
    client = admin_api.client
    headers = admin_api.as_role("admin")
    created = await client.post(
        "/api/v1/api-keys", json={"name": "ci", "role": "viewer"}, headers=headers
    )
    assert created.status == 201
    key = (await created.json())["data"]["key"]
    assert key.startswith("hlk_")
    listed = await (await client.get("/api/v1/api-keys", headers=headers)).json()
    assert all("key" not in item for item in listed["data"])
    trail = await (await client.get("/api/v1/audit", headers=headers)).json()
    entry = trail["data"][0]
    assert entry["action"] == "createApiKey"
    assert entry["actor"].startswith("key:")
    assert entry["actor"].endswith(":admin-key")
    assert entry["status"] == 201


@pytest.mark.parametrize(
    "query",
    [
        {"topic": "x' OR '1'='1"},
        {"stage": "deliver; DROP TABLE dead_letters; --"},
        {"exception_class": "A" * 201},
        {"source": "s" * 1000},
        {"limit": "501"},
        {"limit": "1 OR 1=1"},
        {"failed_after": "yesterday"},
        {"replayed": "maybe"},
        {"unknown": "1"},
    ],
)
async def test_hostile_filters_are_refused_and_change_nothing(
    admin_api: Admin, query: dict[str, str]
) -> None:
    headers = admin_api.as_role("viewer")
    answer = await admin_api.client.get("/api/v1/dead-letters", params=query, headers=headers)
    assert answer.status in (400, 422)
    body = await answer.json()
    assert body["status"] == "error"
    assert body["errors"][0]["field"] == next(iter(query))
    with psycopg.connect(admin_api.settings.postgres.conninfo()) as conn:
        assert conn.execute("SELECT count(*) FROM dead_letters").fetchone() == (0,)


async def test_a_nul_character_anywhere_is_422_and_creates_nothing(admin_api: Admin) -> None:
    """PostgreSQL's text cannot hold NUL: found by schemathesis as a 500 on
    POST /api/v1/api-keys (a DataError deep in the insert)."""
    client, headers = admin_api.client, admin_api.as_role("admin")

    def keys() -> list[str]:
        with psycopg.connect(admin_api.settings.postgres.conninfo()) as conn:
            return [row[0] for row in conn.execute("SELECT name FROM admin_api_keys")]

    before = keys()
    cases = [
        ("post", "/api/v1/api-keys", {"json": {"name": "a\u0000b", "role": "viewer"}}, "name"),
        ("get", "/api/v1/dead-letters", {"params": {"source": "shop\u0000"}}, "source"),
        ("get", "/api/v1/connectors/crm%00x/dead-letters", {}, "name"),
    ]
    for method, path, extra, field in cases:
        answer = await client.request(method, path, headers=headers, **extra)
        assert answer.status == 422, (path, await answer.text())
        [problem] = (await answer.json())["errors"]
        assert (problem["code"], problem["field"]) == ("validation_error", field), path
    assert keys() == before


@pytest.mark.parametrize("number", ["\u00b3", "\u0663", "9" * 19, "-1", "+1", " 1"])
async def test_an_id_that_is_not_a_plain_number_in_range_is_404(
    admin_api: Admin, number: str
) -> None:
    """Found by schemathesis: ``"³".isdigit()`` is True and ``int("³")`` raises (a 500);
    19 digits overflow a bigint (a 500 from PostgreSQL)."""
    client, headers = admin_api.client, admin_api.as_role("admin")
    segment = quote(number, safe="")
    for method, path in [
        ("get", f"/api/v1/conflicts/{segment}"),
        ("get", f"/api/v1/dead-letters/replay-jobs/{segment}"),
        ("post", f"/api/v1/dead-letters/replay-jobs/{segment}/cancel"),
        ("delete", f"/api/v1/api-keys/{segment}"),
        ("get", f"/api/v1/dead-letters/hookline.raw.webhooks.dlq:{segment}:0"),
        ("get", f"/api/v1/dead-letters/hookline.raw.webhooks.dlq:0:{segment}"),
    ]:
        answer = await client.request(method, path, headers=headers)
        assert answer.status == 404, (method, path, await answer.text())
        assert (await answer.json())["errors"][0]["code"] == "not_found"


async def test_an_audit_cursor_beyond_a_bigint_is_422(admin_api: Admin) -> None:
    """Found by schemathesis: ``before`` had no upper bound and PostgreSQL answered
    NumericValueOutOfRange (a 500)."""
    headers = admin_api.as_role("admin")
    for before, status in [(2**63, 422), (2**63 - 1, 200)]:
        answer = await admin_api.client.get(
            "/api/v1/audit", params={"before": str(before)}, headers=headers
        )
        assert answer.status == status, await answer.text()
    refused = await admin_api.client.get(
        "/api/v1/audit", params={"before": str(2**63)}, headers=headers
    )
    assert (await refused.json())["errors"][0]["field"] == "before"
