"""Sign-in, token refresh and sign-out for people; API keys for services; who am I;
the audit trail. Keys and refresh tokens appear in an answer once, when issued."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from admin import auth_store
from admin.audit import list_audit
from admin.auth import Role, dummy_password_check, new_api_key, password_matches
from admin.errors import ApiError, not_found
from admin.ids import BIGINT_MAX, id_number
from admin.routing import Call, Reply, Route
from admin.state import POOL, SETTINGS, SIGNER

Username = Field(min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$")


class LoginRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    username: str = Username
    password: str = Field(min_length=1, max_length=1000)


class RefreshRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    refresh_token: str = Field(min_length=1, max_length=200)


class Me(BaseModel):
    kind: Literal["user", "key"]
    id: int
    name: str
    role: Role


class Tokens(BaseModel):
    token_type: Literal["Bearer"] = "Bearer"  # noqa: S105 - a scheme name
    access_token: str = Field(description="JWT; send as Authorization: Bearer.")
    expires_in: int = Field(description="Seconds the access token is valid.")
    refresh_token: str = Field(description="Use once at /auth/refresh; shown only here.")
    refresh_expires_at: datetime
    user: Me


class ApiKeyCreate(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=100, description="What uses the key.")
    role: Role
    expires_at: AwareDatetime | None = Field(None, description="null: never expires.")


class ApiKey(BaseModel):
    id: int
    name: str
    prefix: str = Field(description="The key's first characters, to recognise it.")
    role: Role
    created_by: str
    created_at: datetime
    expires_at: datetime | None
    revoked_at: datetime | None
    last_used_at: datetime | None


class NewApiKey(ApiKey):
    key: str = Field(description="The key itself: shown this once, stored only hashed.")


class AuditQuery(BaseModel):
    model_config = ConfigDict(extra="forbid")

    limit: int = Field(50, ge=1, le=500)
    before: int | None = Field(
        None, ge=1, le=BIGINT_MAX, description="Only entries with a smaller id."
    )


class AuditEntry(BaseModel):
    id: int
    at: datetime
    actor: str
    action: str
    method: str
    path: str
    target: str | None
    status: int
    remote: str | None
    request_id: str


async def _tokens(call: Call, user: dict[str, object], refresh: auth_store.IssuedRefresh) -> Reply:
    signer = call.request.app[SIGNER]
    uid, name, role = int(str(user["id"])), str(user["username"]), user["role"]
    tokens = Tokens(
        access_token=signer.issue(uid, name, role),  # type: ignore[arg-type]
        expires_in=signer.lifetime_seconds,
        refresh_token=refresh.token,
        refresh_expires_at=refresh.expires_at,
        user=Me(kind="user", id=uid, name=name, role=role),
    )
    return Reply(tokens.model_dump(mode="json"))


async def login(call: Call) -> Reply:
    body: LoginRequest = call.body
    call.audit_target = body.username
    user = await auth_store.user_for_login(call.request.app[POOL], body.username)
    if user is None:
        dummy_password_check(body.password)
    if user is None or not password_matches(user["password_hash"], body.password):
        raise ApiError(401, "invalid_credentials", "unknown user or wrong password")
    lifetime = call.request.app[SETTINGS].admin.refresh_token_seconds
    refresh = await auth_store.start_family(call.request.app[POOL], user["id"], lifetime)
    return await _tokens(call, user, refresh)


async def refresh(call: Call) -> Reply:
    body: RefreshRequest = call.body
    lifetime = call.request.app[SETTINGS].admin.refresh_token_seconds
    user, issued = await auth_store.rotate(call.request.app[POOL], body.refresh_token, lifetime)
    call.audit_target = str(user["username"])
    return await _tokens(call, user, issued)


async def logout(call: Call) -> Reply:
    body: RefreshRequest = call.body
    await auth_store.revoke_family(call.request.app[POOL], body.refresh_token)
    return Reply(None)


async def me(call: Call) -> Reply:
    p = call.principal
    return Reply(Me(kind=p.kind, id=p.id, name=p.name, role=p.role).model_dump())


async def list_keys(call: Call) -> Reply:
    rows = await auth_store.list_keys(call.request.app[POOL])
    return Reply([ApiKey.model_validate(r).model_dump(mode="json") for r in rows])


async def create_key(call: Call) -> Reply:
    body: ApiKeyCreate = call.body
    key = new_api_key()
    row = await auth_store.create_key(
        call.request.app[POOL],
        name=body.name,
        role=body.role,
        expires_at=body.expires_at,
        created_by=call.principal.actor,
        key=key,
    )
    call.audit_target = f"key:{row['id']}:{body.name}"
    return Reply(NewApiKey.model_validate(row | {"key": key}).model_dump(mode="json"), 201)


async def revoke_key(call: Call) -> Reply:
    raw = call.path("id")
    call.audit_target = f"key:{raw}"
    number = id_number(raw)
    row = None if number is None else await auth_store.revoke_key(call.request.app[POOL], number)
    if row is None:
        raise not_found("API key")
    return Reply(ApiKey.model_validate(row).model_dump(mode="json"))


async def audit(call: Call) -> Reply:
    query: AuditQuery = call.query
    rows = await list_audit(call.request, query.limit, query.before)
    columns = list(AuditEntry.model_fields)
    return Reply(
        [
            AuditEntry.model_validate(dict(zip(columns, r, strict=True))).model_dump(mode="json")
            for r in rows
        ]
    )


ROUTES = [
    Route(
        "POST",
        "/api/v1/auth/login",
        "login",
        login,
        None,
        Tokens,
        "Sign in: an access token and a refresh token.",
        "auth",
        body=LoginRequest,
    ),
    Route(
        "POST",
        "/api/v1/auth/refresh",
        "refreshTokens",
        refresh,
        None,
        Tokens,
        "Use a refresh token once: new tokens; a reused one revokes its session.",
        "auth",
        body=RefreshRequest,
    ),
    Route(
        "POST",
        "/api/v1/auth/logout",
        "logout",
        logout,
        None,
        None,
        "Revoke a refresh token's session.",
        "auth",
        body=RefreshRequest,
    ),
    Route("GET", "/api/v1/me", "me", me, "viewer", Me, "Who is calling.", "auth"),
    Route(
        "GET",
        "/api/v1/api-keys",
        "listApiKeys",
        list_keys,
        "admin",
        list[ApiKey],
        "Every API key (never the keys themselves).",
        "api-keys",
    ),
    Route(
        "POST",
        "/api/v1/api-keys",
        "createApiKey",
        create_key,
        "admin",
        NewApiKey,
        "Create an API key; the answer shows it once.",
        "api-keys",
        body=ApiKeyCreate,
        status=201,
    ),
    Route(
        "DELETE",
        "/api/v1/api-keys/{id}",
        "revokeApiKey",
        revoke_key,
        "admin",
        ApiKey,
        "Revoke an API key at once.",
        "api-keys",
    ),
    Route(
        "GET",
        "/api/v1/audit",
        "listAudit",
        audit,
        "admin",
        list[AuditEntry],
        "The audit trail of mutating calls, newest first.",
        "audit",
        query=AuditQuery,
    ),
]
