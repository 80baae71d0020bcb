"""HubSpot's answers, read: per-input outcomes of a batch upsert, and errors in HubSpot's
words with its documented waits. Used by :mod:`connectors.destinations.hubspot`.

- A 200/207 batch answer gives each input its record (matched by the ``idProperty`` value
  echoed in ``properties``, or by position when nothing is echoed), its own error
  (``errors[].context.ids``: permanent, with HubSpot's message), or, reported neither
  way, a retriable error.
- 429 waits by ``policyName`` (``TEN_SECONDLY_ROLLING`` 10 s, as HubSpot's own client
  does; ``DAILY`` an hour) and tells the shared budget to hold back as long; 423 waits at
  least 2 s; 477's ``Retry-After`` is kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson

from connectors.errors import DeliveryError, PermanentError, RateLimitHint, RetriableError
from connectors.http import HttpResponse

TEN_SECONDLY_RETRY_SECONDS = 10.0
DAILY_RETRY_SECONDS = 3600.0
LOCKED_RETRY_SECONDS = 2.0


@dataclass(frozen=True, slots=True)
class Input:
    object_type: str
    id: str
    id_property: str
    properties: Mapping[str, str]
    trace: str

    def key(self) -> tuple[str, str]:
        return (self.id_property, self.id.lower())


@dataclass(frozen=True, slots=True)
class Upserted:
    id: str  # HubSpot's record ID
    rate_limit: RateLimitHint | None


def batch_outcomes(inputs: list[Input], response: HttpResponse) -> list[Upserted | BaseException]:
    """Each input's outcome in a 200/207 answer: its record, its error, or (neither
    reported) a retriable error."""
    body = response.json() or {}
    found: dict[tuple[str, str], str] = {}
    results = [r for r in body.get("results") or () if isinstance(r, dict)]
    for item, result in zip(inputs, results, strict=False):
        props = result.get("properties") or {}
        value = str(props.get(item.id_property) or "")
        if value:
            found[(item.id_property, value.lower())] = str(result.get("id"))
    if not found and len(results) == len(inputs):  # no properties echoed: in input order
        found = {i.key(): str(r.get("id")) for i, r in zip(inputs, results, strict=True)}
    failed = {}
    for error in body.get("errors") or ():
        for ident in (error.get("context") or {}).get("ids") or ():
            failed[str(ident).lower()] = error
    outcomes: list[Upserted | BaseException] = []
    for item in inputs:
        if item.key() in found:
            outcomes.append(Upserted(found[item.key()], response.rate_limit))
        elif item.id.lower() in failed:
            error = failed[item.id.lower()]
            outcomes.append(
                PermanentError(
                    _describe(error), status=response.status, body=orjson.dumps(error).decode()
                )
            )
        else:
            outcomes.append(RetriableError("hubspot reported no outcome for this input"))
    return outcomes


def vendor_error(error: DeliveryError) -> DeliveryError:
    """The error with HubSpot's own words and timing: category and message, and the
    documented waits of 429 (by policy), 423 and 477."""
    body = _json_object(error.body)
    message = f"HTTP {error.status} {_describe(body)}" if body else str(error)
    if isinstance(error, PermanentError):
        return PermanentError(
            message, status=error.status, body=error.body, rate_limit=error.rate_limit
        )
    retry_after = error.retry_after if isinstance(error, RetriableError) else None
    rate_limit = error.rate_limit
    if error.status == 429:
        policy = str(body.get("policyName") or "")
        wait = DAILY_RETRY_SECONDS if policy == "DAILY" else TEN_SECONDLY_RETRY_SECONDS
        retry_after = max(retry_after or 0.0, wait)
        rate_limit = RateLimitHint(remaining=0, reset_seconds=retry_after, retry_after=retry_after)
    elif error.status == 423:
        retry_after = max(retry_after or 0.0, LOCKED_RETRY_SECONDS)
    return RetriableError(
        message,
        retry_after=retry_after,
        status=error.status,
        body=error.body,
        rate_limit=rate_limit,
    )


def _describe(error: Mapping[str, Any]) -> str:
    parts = [str(error.get(k)) for k in ("category", "errorType", "policyName") if error.get(k)]
    parts.append(str(error.get("message") or "no message"))
    return " ".join(dict.fromkeys(parts))


def _json_object(text: str | None) -> dict[str, Any]:
    try:
        value = orjson.loads(text or "")
    except orjson.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}
