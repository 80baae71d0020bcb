"""Who is calling: API keys for services, JWT access tokens for people.

Guarantees:

- **API keys** (``X-API-Key: hlk_…``) are 256 random bits, shown once at creation; only
  their SHA-256 is stored. A key is accepted while neither revoked nor expired, and each
  use records ``last_used_at``.
- **Access tokens** (``Authorization: Bearer …``) are HS256 JWTs (PyJWT) signed with
  ``admin.jwt_secret``, lived ``access_token_seconds`` (15 minutes); signature, expiry,
  issuer and type are all checked. They carry the user's role.
- **Refresh tokens** are random strings stored hashed; each is used once (rotation) and a
  second use revokes its whole family (:mod:`admin.auth_store`).
- **Passwords** are hashed with argon2id (argon2-cffi's defaults).
"""

from __future__ import annotations

import hashlib
import secrets
import time
import uuid
from dataclasses import dataclass
from typing import Literal

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from admin.errors import ApiError

Role = Literal["viewer", "operator", "admin"]
ROLES: tuple[Role, ...] = ("viewer", "operator", "admin")  # each may do what the previous may
API_KEY_PREFIX = "hlk_"
ISSUER = "hookline-admin"
_HASHER = PasswordHasher()
MIN_SECRET_BYTES = 32


def allows(role: Role, needed: Role) -> bool:
    return ROLES.index(role) >= ROLES.index(needed)


@dataclass(frozen=True, slots=True)
class Principal:
    kind: Literal["user", "key", "anonymous"]
    id: int
    name: str
    role: Role

    @property
    def actor(self) -> str:
        """How the audit trail names the caller."""
        if self.kind == "anonymous":
            return "anonymous"
        return f"{self.kind}:{self.id}:{self.name}"


ANONYMOUS = Principal("anonymous", 0, "anonymous", "viewer")


def sha256(token: str) -> bytes:
    return hashlib.sha256(token.encode()).digest()


def new_api_key() -> str:
    return API_KEY_PREFIX + secrets.token_urlsafe(32)


def new_refresh_token() -> str:
    return secrets.token_urlsafe(32)


def hash_password(password: str) -> str:
    return _HASHER.hash(password)


def password_matches(password_hash: str, password: str) -> bool:
    try:
        return _HASHER.verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def dummy_password_check(password: str) -> None:
    """Spend the time of a real check, so that an unknown user cannot be told apart."""
    password_matches(_DUMMY_HASH, password)


_DUMMY_HASH = _HASHER.hash("not a password anyone has")


class TokenSigner:
    """Issues and checks access tokens with one secret."""

    def __init__(self, secret: str, lifetime_seconds: int) -> None:
        if len(secret.encode()) < MIN_SECRET_BYTES:
            raise ValueError(
                f"admin.jwt_secret must be at least {MIN_SECRET_BYTES} bytes "
                "(HOOKLINE_ADMIN__JWT_SECRET)"
            )
        self._secret = secret
        self.lifetime_seconds = lifetime_seconds

    def issue(self, user_id: int, username: str, role: Role) -> str:
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": str(user_id),
            "name": username,
            "role": role,
            "typ": "access",
            "iat": now,
            "exp": now + self.lifetime_seconds,
            "jti": uuid.uuid4().hex,
        }
        return jwt.encode(claims, self._secret, algorithm="HS256")

    def verify(self, token: str) -> Principal:
        """The token's user; ``ApiError(401, invalid_token)`` for anything not valid."""
        try:
            claims = jwt.decode(
                token,
                self._secret,
                algorithms=["HS256"],
                issuer=ISSUER,
                options={"require": ["exp", "iat", "sub", "iss"]},
            )
        except jwt.ExpiredSignatureError:
            raise ApiError(401, "invalid_token", "the access token has expired") from None
        except jwt.InvalidTokenError:
            raise ApiError(401, "invalid_token", "the access token is not valid") from None
        role = claims.get("role")
        if claims.get("typ") != "access" or role not in ROLES:
            raise ApiError(401, "invalid_token", "the access token is not valid")
        return Principal("user", int(claims["sub"]), str(claims.get("name", "")), role)
