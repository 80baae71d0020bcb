"""Standard Webhooks (and Svix, the same format) -> Passthrough.

The body is ``{"type": "contact.created", "timestamp": "<ISO 8601>", "data": {…}}``; what
``data`` means is up to each sender, so Hookline passes it through whole (action
``received``). The sender's own entity ID, ``data.id`` when present, chooses the key:
``{provider}:{source}:{data.id}`` (IDs are the sender's, so they are scoped by source);
without one, each event has its own key. ``updated_at`` is ``timestamp`` (the spec's "when
the event occurred"), else the ingress ``received_at``.
"""

from __future__ import annotations

from processors.normalisers.base import ProviderNormaliser, RawEvent, passthrough
from processors.normalisers.fields import json_object
from schemas.events import CloudEvent


class StandardWebhooksNormaliser(ProviderNormaliser):
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        body = json_object(raw.body)
        data = body.child("data")
        native = data.opt_ident("id") if data else None
        key = f"{raw.headers.provider}:{raw.headers.source}:{native}" if native else None
        external = {raw.headers.source: native} if native else None
        updated_at = body.time("timestamp")
        return [
            passthrough(
                raw, dict(body.data), entity_id=key, external_ids=external, updated_at=updated_at
            )
        ]


NORMALISER = StandardWebhooksNormaliser()
