"""HubSpot webhooks -> Customer (contacts); everything else passes through.

HubSpot posts a JSON array of events; the ingress publishes each element as its own raw
record, so the body here is one object: ``portalId``, ``objectId``, ``occurredAt`` (unix
ms), ``subscriptionType`` (older apps: ``eventType``) such as ``contact.propertyChange``,
and ``propertyName``/``propertyValue`` for property changes. Generic ``object.*``
subscriptions name the type in ``objectTypeId`` (0-1 contact, 0-2 company, 0-3 deal).

=========================================  ===========  ===================================
subscription type                          family       action
=========================================  ===========  ===================================
contact.creation                           customer     created
contact.propertyChange                     customer     updated
contact.restore                            customer     updated
contact.snapshot (a poller's read)         customer     updated (every property read)
contact.deletion, contact.privacyDeletion  customer     deleted
contact.merge, contact.associationChange   passthrough  received
company.*, deal.*, any other               passthrough  received
=========================================  ===========  ===================================

HubSpot sends changes, not records: a creation carries no properties and a property change
carries one. Every Customer from HubSpot is therefore ``partial``: ``properties`` holds what
this event says (property name -> value; ``None`` when the property was cleared), and
``email``, ``first_name``, ``last_name``, ``phone``, ``company`` are filled when the
changed property is one of those. Merge; never replace a stored contact with it.

Companies and deals pass through rather than being forced into Customer or Order: a
company is not a person and a deal is not an order. They are keyed by object, so one
object's events stay in order.

IDs are per portal: ``hubspot:{portalId}:{object type}:{objectId}``. ``updated_at`` and
``time`` are ``occurredAt``.
"""

from __future__ import annotations

from processors.normalisers.base import ProviderNormaliser, RawEvent, event, passthrough
from processors.normalisers.fields import Obj, json_object
from schemas.events import CloudEvent, Customer

_CONTACT_ACTIONS = {
    "creation": "created",
    "propertyChange": "updated",
    "restore": "updated",
    "deletion": "deleted",
    "privacyDeletion": "deleted",
    "snapshot": "updated",  # a whole contact read by a poller (pollers/adapters/hubspot.py)
}
_OBJECT_TYPE_IDS = {"0-1": "contact", "0-2": "company", "0-3": "deal"}
_TYPED_PROPERTIES = {
    "email": "email",
    "firstname": "first_name",
    "lastname": "last_name",
    "phone": "phone",
    "company": "company",
}


class HubSpotNormaliser(ProviderNormaliser):
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        body = json_object(raw.body)
        object_type, change = _subscription(body)
        portal = body.ident("portalId")
        at = body.req_time("occurredAt", unix="ms")
        object_id = body.opt_ident("objectId")
        action = _CONTACT_ACTIONS.get(change) if object_type == "contact" else None
        if action is None or object_id is None:
            key = f"hubspot:{portal}:{object_type}:{object_id}" if object_id else None
            external = {"hubspot": object_id} if object_id else None
            payload = dict(body.data)
            return [passthrough(raw, payload, entity_id=key, external_ids=external, updated_at=at)]
        fields = _FIELDS[change](body) if change in _FIELDS else {}
        contact = Customer.model_validate(
            {
                "id": f"hubspot:{portal}:contact:{object_id}",
                "external_ids": {"hubspot": object_id},
                "updated_at": at,
                "partial": True,
                **fields,
            }
        )
        return [event(raw, action, contact)]


def _subscription(body: Obj) -> tuple[str, str]:
    """(object type, change) from ``contact.propertyChange`` or ``object.propertyChange``."""
    kind = body.text("subscriptionType") or body.req_text("eventType")
    object_type, _, change = kind.partition(".")
    if object_type == "object":
        type_id = body.opt_ident("objectTypeId") or "unknown"
        object_type = _OBJECT_TYPE_IDS.get(type_id, f"object-{type_id}")
    return object_type, change


def _changed_fields(body: Obj) -> dict[str, object]:
    name = body.req_text("propertyName")
    value = body.get("propertyValue")
    text = None if value is None or value == "" else str(value)
    fields: dict[str, object] = {"properties": {name: text}}
    if name in _TYPED_PROPERTIES and text is not None:
        fields[_TYPED_PROPERTIES[name]] = text
    return fields


def _snapshot_fields(body: Obj) -> dict[str, object]:
    """A polled contact: every property read (``hs_*`` bookkeeping left out)."""
    read = body.get("properties")
    props = read if isinstance(read, dict) else {}
    texts = {k: None if v in (None, "") else str(v) for k, v in props.items()}
    fields: dict[str, object] = {
        "properties": {k: v for k, v in texts.items() if not k.startswith("hs_")}
    }
    fields |= {typed: texts[name] for name, typed in _TYPED_PROPERTIES.items() if texts.get(name)}
    return fields


_FIELDS = {"propertyChange": _changed_fields, "snapshot": _snapshot_fields}

NORMALISER = HubSpotNormaliser()
