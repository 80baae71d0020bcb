"""The admin API's one error type, translated into an envelope at the boundary.

::

    ApiError(status, code, message, field?)   raised by handlers and the route wrapper
      400 malformed_json, invalid_cursor, unsupported_api_version, invalid_dead_letter_topic
      401 unauthenticated, invalid_credentials, invalid_token, refresh_token_reused
      403 forbidden
      404 not_found            405 method_not_allowed          413 body_too_large
      409 already_replayed, discarded, replay_busy, conflict, conflict_resolved,
          event_unavailable, job_finished
      422 validation_error (one error per field)     429 rate_limited (Retry-After)
      500 internal_error (never a traceback)   503 unavailable (Kafka or PostgreSQL)

Anything else a handler raises is logged and answered 500 ``internal_error``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Problem:
    code: str
    message: str
    field: str | None = None


class ApiError(Exception):
    """An answer other than success: status, code, message, the field at fault."""

    def __init__(
        self,
        status: int,
        code: str,
        message: str,
        field: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        more: list[Problem] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.field = field
        self.headers = dict(headers or {})
        self.more = list(more or [])

    @property
    def problems(self) -> list[Problem]:
        return [Problem(self.code, self.message, self.field), *self.more]


def not_found(what: str) -> ApiError:
    return ApiError(404, "not_found", f"{what} not found")
