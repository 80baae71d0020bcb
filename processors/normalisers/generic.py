"""The fallback: any provider without a module of its own (``generic_hmac`` and any
provider type not in the registry) -> Passthrough.

A JSON body (object or array) passes through as parsed; a form-encoded body becomes an
object of its fields (a repeated field becomes a list). Anything else is an invalid
payload: the dead-letter topic keeps it. Each event has its own key
(``{provider}:{source}:{event id}``), and ``updated_at`` is the ingress ``received_at``:
a generic body has no time or entity we could rely on. Action: ``received``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs

from processors.normalisers.base import InvalidPayload, ProviderNormaliser, RawEvent, passthrough
from processors.normalisers.fields import parse_json
from schemas.events import CloudEvent


class GenericNormaliser(ProviderNormaliser):
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        return [passthrough(raw, _payload(raw))]


def _payload(raw: RawEvent) -> dict[str, Any] | list[Any]:
    if raw.is_form_encoded:
        text = raw.body.decode("utf-8", errors="replace")
        fields = parse_qs(text, keep_blank_values=True)
        return {k: v[0] if len(v) == 1 else v for k, v in fields.items()}
    value = parse_json(raw.body)
    if not isinstance(value, dict | list):
        raise InvalidPayload(f"body is a JSON {type(value).__name__}, expected an object or array")
    return value


NORMALISER = GenericNormaliser()
