"""Changes as the connector runner builds them, for tests that call a destination directly."""

from __future__ import annotations

from connectors.delivery import state_hash
from connectors.destinations.base import Change, Destination
from schemas.events import CloudEvent

#: HubSpot's 429 body for its burst limit (see sandbox.hubspot).
HUBSPOT_RATE_LIMITED = {
    "status": "error",
    "errorType": "RATE_LIMIT",
    "policyName": "TEN_SECONDLY_ROLLING",
    "message": "You have reached your ten_secondly_rolling limit.",
}


def change_of(destination: Destination, event: CloudEvent, source: str = "shop") -> Change:
    """The change of a full snapshot ``event``, its state from ``destination.state_for``."""
    state = destination.state_for(event)
    return Change(
        entity_key=event.subject,
        family=event.family,
        entity_id=event.data.id,
        state=state,
        state_hash=state_hash(state),
        version=event.data.updated_at,
        source=source,
        event_id=event.id,
        event_type=event.type,
    )
