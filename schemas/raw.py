"""The raw webhook topic (``{prefix}.raw.webhooks``).

Key: ``{source}:{provider event id}`` (UTF-8). Value: the webhook body exactly as the
provider sent it (one event of a batch for batching providers). Metadata travels in
headers, modelled by :class:`RawHeaders`.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import datetime

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

HEADER_PREFIX = "hookline-"


class RawHeaders(BaseModel):
    """Headers of a raw webhook record. ``content-type`` carries the provider's type."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    source: str = Field(description="Configured source name, e.g. 'stripe' or 'shop-eu'.")
    provider: str = Field(description="Provider type, e.g. 'stripe', 'shopify'.")
    event_id: str = Field(description="The provider's event ID: the dedupe key.")
    event_type: str = Field(description="The provider's event type, e.g. 'orders/create'.")
    received_at: AwareDatetime = Field(description="When the ingress received the request.")
    content_type: str = Field(description="Content-Type of the body as sent.")
    request_id: str = Field(description="Ingress request ID, for log correlation.")

    def to_kafka(self) -> list[tuple[str, bytes]]:
        return self.wire(**{name: getattr(self, name) for name in type(self).model_fields})

    @staticmethod
    def wire(
        *,
        source: str,
        provider: str,
        event_id: str,
        event_type: str,
        received_at: datetime,
        content_type: str,
        request_id: str,
    ) -> list[tuple[str, bytes]]:
        """The Kafka headers for these values, without building a model: the ingress calls
        this once per event on its hot path. ``to_kafka`` goes through here too."""
        return [
            ("hookline-source", source.encode()),
            ("hookline-provider", provider.encode()),
            ("hookline-event-id", event_id.encode()),
            ("hookline-event-type", event_type.encode()),
            ("hookline-received-at", received_at.isoformat().encode()),
            ("content-type", content_type.encode()),
            ("hookline-request-id", request_id.encode()),
        ]

    @classmethod
    def from_kafka(cls, headers: Iterable[tuple[str, bytes | None]]) -> RawHeaders:
        fields: dict[str, str] = {}
        for wire, value in headers:
            if wire == "content-type":
                fields["content_type"] = (value or b"").decode()
            elif wire.startswith(HEADER_PREFIX):
                name = wire.removeprefix(HEADER_PREFIX).replace("-", "_")
                if name in cls.model_fields:  # other stages add headers of their own
                    fields[name] = (value or b"").decode()
        return cls.model_validate(fields)
