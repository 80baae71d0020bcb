"""OAuth 2.0 access tokens from a rotating refresh token, the grant kept in PostgreSQL.

Guarantees of :class:`OAuthTokens`:

- An access token is refreshed ``margin_seconds`` before it expires (the token
  endpoint's ``expires_in``), and again when the API refused it
  (:meth:`OAuthTokens.refused`: the caller saw a 401).
- A refresh runs under the credential's row lock (``oauth_tokens``, migration 0004), so
  of several instances sharing the credential one refreshes and the others pick up its
  result: a rotated refresh token is never used twice.
- The new refresh token is committed **before** the new access token is handed out: the
  old one is invalid at the vendor from then on, and losing the new one loses the grant.
- The refresh token from the configuration only seeds the row; a different one there
  later (the app was authorised again) replaces the stored chain.
- Token endpoint (RFC 6749 §6): ``POST`` form ``grant_type=refresh_token, client_id,
  client_secret, refresh_token`` → ``{access_token, expires_in, refresh_token?}``. A 4xx
  from it is a :class:`~connectors.errors.PermanentError` (the grant is gone; someone
  must authorise the app again); 5xx and timeouts are retriable. Tokens never reach a
  log line or an error message.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool
from pydantic import SecretStr

from connectors.errors import PermanentError
from connectors.http import HttpClient
from hookline.logs import get_logger

log = get_logger("hookline.connectors.oauth")

_SEED = """
INSERT INTO oauth_tokens (credential, refresh_token, seed_sha256)
VALUES (%(credential)s, %(refresh)s, %(seed)s)
ON CONFLICT (credential) DO NOTHING
"""
_LOCK = """
SELECT refresh_token, seed_sha256, access_token, access_expires_at
FROM oauth_tokens WHERE credential = %(credential)s FOR UPDATE
"""
_RESEED = """
UPDATE oauth_tokens SET refresh_token = %(refresh)s, seed_sha256 = %(seed)s,
    access_token = NULL, access_expires_at = NULL, rotated_at = now()
WHERE credential = %(credential)s
"""
_STORE = """
UPDATE oauth_tokens SET refresh_token = %(refresh)s, access_token = %(access)s,
    access_expires_at = %(expires)s, rotated_at = now()
WHERE credential = %(credential)s
"""


@dataclass(frozen=True, slots=True)
class OAuthGrant:
    """Where and how to refresh; ``credential`` names the row in ``oauth_tokens``."""

    credential: str
    token_url: str
    client_id: str
    client_secret: SecretStr
    refresh_token: SecretStr  # the seed from the configuration
    margin_seconds: float = 300.0


@dataclass(frozen=True, slots=True)
class _Access:
    token: str
    expires_at: datetime


class OAuthTokens:
    def __init__(
        self,
        grant: OAuthGrant,
        pool: AsyncConnectionPool,
        http: HttpClient,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._grant = grant
        self._pool = pool
        self._http = http
        self._now = now
        self._access: _Access | None = None
        self._refused: str | None = None  # an access token the API answered 401 to
        self._lock = asyncio.Lock()  # one refresh per process at a time

    async def access_token(self) -> str:
        """A usable access token, refreshed when near its expiry or refused."""
        access = self._access
        if access is not None and self._fresh(access):
            return access.token
        async with self._lock:
            if self._access is None or not self._fresh(self._access):
                self._access = await self._refresh()
            return self._access.token

    def refused(self, token: str) -> None:
        """The API refused ``token`` (401): the next call refreshes."""
        self._refused = token
        if self._access is not None and self._access.token == token:
            self._access = None

    def _fresh(self, access: _Access) -> bool:
        margin = timedelta(seconds=self._grant.margin_seconds)
        return access.token != self._refused and access.expires_at - margin > self._now()

    async def _refresh(self) -> _Access:
        grant = self._grant
        seed = grant.refresh_token.get_secret_value()
        params: dict[str, Any] = {
            "credential": grant.credential,
            "refresh": seed,
            "seed": hashlib.sha256(seed.encode()).hexdigest(),
        }
        async with self._pool.connection() as conn, conn.transaction():
            await conn.execute(_SEED, params)
            refresh, stored = await self._locked_row(conn, params)
            if stored is not None and self._fresh(stored):
                return stored  # another instance refreshed while we waited for the lock
            access, rotated = await self._call_token_endpoint(refresh)
            await conn.execute(
                _STORE,
                {
                    "credential": grant.credential,
                    "refresh": rotated,
                    "access": access.token,
                    "expires": access.expires_at,
                },
            )
        # committed: the rotated refresh token is durable before the access token is used
        log.info(
            "oauth token refreshed",
            credential=grant.credential,
            expires_at=access.expires_at.isoformat(),
            refresh_token_rotated=rotated != refresh,
        )
        return access

    async def _locked_row(
        self, conn: AsyncConnection[Any], params: dict[str, Any]
    ) -> tuple[str, _Access | None]:
        cursor = await conn.execute(_LOCK, params)
        row = await cursor.fetchone()
        if row is None:  # deleted between the two statements: an operator reset it
            raise PermanentError(f"oauth credential {self._grant.credential!r} vanished")
        refresh, seed_sha, token, expires = row
        if seed_sha != params["seed"]:
            await conn.execute(_RESEED, params)
            log.info("oauth grant reseeded from configuration", credential=params["credential"])
            return params["refresh"], None
        stored = _Access(token, expires) if token is not None and expires is not None else None
        return refresh, stored

    async def _call_token_endpoint(self, refresh: str) -> tuple[_Access, str]:
        grant = self._grant
        form = {
            "grant_type": "refresh_token",
            "client_id": grant.client_id,
            "client_secret": grant.client_secret.get_secret_value(),
            "refresh_token": refresh,
        }
        response = await self._http.request("POST", grant.token_url, form=form)
        body = response.json()
        if not isinstance(body, dict) or not isinstance(body.get("access_token"), str):
            raise PermanentError("token endpoint answered without an access_token")
        expires_in = float(body.get("expires_in") or 0)
        access = _Access(body["access_token"], self._now() + timedelta(seconds=expires_in))
        rotated = body.get("refresh_token")
        return access, rotated if isinstance(rotated, str) and rotated else refresh
