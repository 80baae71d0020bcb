"""The records behind :mod:`sandbox.hubspot`: CRM objects, their validation, search.

Objects are kept per type (``contacts``, ``companies``, ``deals``) with string property
values, as HubSpot's OpenAPI documents them (``properties: {string: string}``). Which
properties exist, which are unique (usable as ``idProperty``) and which deal stages the
default pipeline has are fixed below, like a portal with Hookline's custom property
``hookline_external_id`` created. A write that changes nothing is not an *effective
write* (HubSpot records no new property version for an unchanged value).
"""

from __future__ import annotations

import operator
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

EXTERNAL_ID = "hookline_external_id"
KNOWN_PROPERTIES = {
    "contacts": {"email", "firstname", "lastname", "phone", "company", "address", "city",
                 "state", "zip", "country", "lifecyclestage", EXTERNAL_ID},
    "companies": {"name", "domain", "city", "country", EXTERNAL_ID},
    "deals": {"dealname", "amount", "deal_currency_code", "pipeline", "dealstage",
              "closedate", EXTERNAL_ID},
    # notes (engagements, CRM v3 notes API): a plain custom property, not unique
    "notes": {"hs_note_body", "hs_timestamp", "hubspot_owner_id", EXTERNAL_ID},
}  # fmt: skip
UNIQUE_PROPERTIES = {"contacts": {"email", EXTERNAL_ID}, "companies": {EXTERNAL_ID},
                     "deals": {EXTERNAL_ID}, "notes": set()}  # fmt: skip
NOTE_BODY_MAX = 65_536  # hs_note_body's documented limit
DEAL_STAGES = {"appointmentscheduled", "qualifiedtobuy", "presentationscheduled",
               "decisionmakerboughtin", "contractsent", "closedwon", "closedlost"}  # fmt: skip
#: HubSpot-defined association type IDs of the default associations (associations v4).
ASSOCIATION_TYPES = {
    ("contacts", "companies"): 279, ("companies", "contacts"): 280,
    ("deals", "contacts"): 3, ("contacts", "deals"): 4,
    ("deals", "companies"): 341, ("companies", "deals"): 342,
    ("notes", "contacts"): 202, ("contacts", "notes"): 201,
}  # fmt: skip
_COMPARISONS = {"EQ": operator.eq, "NEQ": operator.ne, "LT": operator.lt,
                "LTE": operator.le, "GT": operator.gt, "GTE": operator.ge}  # fmt: skip
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
_DATE_PROPERTIES = {"createdate", "lastmodifieddate", "hs_lastmodifieddate", "closedate"}


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@dataclass
class Record:
    id: str
    properties: dict[str, str]
    created: datetime
    updated: datetime

    def view(self, new: bool | None = None) -> dict[str, Any]:
        body: dict[str, Any] = {
            "id": self.id,
            "properties": {**self.properties, "hs_object_id": self.id},
            "createdAt": iso(self.created),
            "updatedAt": iso(self.updated),
            "archived": False,
        }
        if new is not None:
            body["new"] = new
        return body


@dataclass
class Invalid(Exception):
    """One input's validation error, in HubSpot's words."""

    message: str
    code: str
    property: str


@dataclass
class Store:
    records: dict[str, dict[str, Record]] = field(
        default_factory=lambda: {t: {} for t in KNOWN_PROPERTIES}
    )
    associations: set[tuple[str, str, str, str]] = field(default_factory=set)
    effective_writes: Counter[tuple[str, str]] = field(default_factory=Counter)
    _next_id: int = 1000

    def validate(self, kind: str, properties: dict[str, Any]) -> None:
        """Raise :class:`Invalid` for the first property HubSpot would refuse."""
        for name, value in properties.items():
            if name not in KNOWN_PROPERTIES[kind]:
                raise Invalid(f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST", name)
            if not isinstance(value, str):
                raise Invalid(f"{name}: {value!r} is not a string", "INVALID_TYPE", name)
        email = properties.get("email")
        if kind == "contacts" and email and not _EMAIL.match(email):
            raise Invalid(f"Email address {email} is invalid", "INVALID_EMAIL", "email")
        body = properties.get("hs_note_body")
        if kind == "notes" and body is not None and len(body) > NOTE_BODY_MAX:
            raise Invalid("hs_note_body is too long", "INVALID_STRING", "hs_note_body")
        stage = properties.get("dealstage")
        if kind == "deals" and stage is not None and stage not in DEAL_STAGES:
            raise Invalid(f"{stage} is not a valid deal stage", "INVALID_OPTION", "dealstage")

    def find(self, kind: str, ident: str, by: str | None) -> Record | None:
        table = self.records[kind]
        if by is None or by == "hs_object_id":
            return table.get(ident)
        wanted = ident.lower()
        return next((r for r in table.values() if r.properties.get(by, "").lower() == wanted), None)

    def upsert(
        self, kind: str, ident: str, by: str, properties: dict[str, str]
    ) -> tuple[Record, bool]:
        """Create or update by a unique property; returns the record and whether it is new."""
        record = self.find(kind, ident, by)
        if record is None:
            now = datetime.now(UTC)
            self._next_id += 1
            record = Record(str(self._next_id), {by: ident}, now, now)
            self.records[kind][record.id] = record
            self.write(kind, record, properties, created=True)
            return record, True
        self.write(kind, record, properties)
        return record, False

    def write(
        self, kind: str, record: Record, properties: dict[str, str], created: bool = False
    ) -> None:
        merged = {**record.properties, **properties}
        if merged == record.properties and not created:
            return  # unchanged: no new version, not an effective write
        now = datetime.now(UTC)
        record.properties = merged
        record.updated = now
        record.properties.setdefault("createdate", iso(record.created))
        record.properties["lastmodifieddate"] = iso(now)
        self.effective_writes[(kind, record.id)] += 1

    def create(self, kind: str, properties: dict[str, str]) -> Record:
        """A new record (``POST /crm/v3/objects/{type}``: no upsert, a repeat is a second
        record)."""
        now = datetime.now(UTC)
        self._next_id += 1
        record = Record(str(self._next_id), {}, now, now)
        self.records[kind][record.id] = record
        self.write(kind, record, properties, created=True)
        return record

    def associate(self, from_type: str, from_id: str, to_type: str, to_id: str) -> bool:
        """Both directions, as HubSpot keeps them; True when it is a new association."""
        edge = (from_type, from_id, to_type, to_id)
        new = edge not in self.associations
        self.associations |= {edge, (to_type, to_id, from_type, from_id)}
        return new


def matches(record: Record, filters: list[dict[str, Any]]) -> bool:
    """All filters of one filter group hold (HubSpot: filters AND, groups OR)."""
    return all(_holds(record, f) for f in filters)


def _holds(record: Record, rule: dict[str, Any]) -> bool:
    name, op = rule["propertyName"], rule["operator"]
    props = {**record.properties, "hs_object_id": record.id}
    have = props.get(name)
    if op == "HAS_PROPERTY":
        return have is not None
    if op == "NOT_HAS_PROPERTY":
        return have is None
    if have is None:
        return False
    if op in ("IN", "NOT_IN"):
        inside = have.lower() in {str(v).lower() for v in rule.get("values") or ()}
        return inside if op == "IN" else not inside
    left, right = comparable(name, have), comparable(name, str(rule.get("value", "")))
    return bool(_COMPARISONS[op](left, right))


def comparable(name: str, value: str) -> Any:
    """Dates compare as instants (ISO 8601 or Unix milliseconds, as HubSpot accepts);
    numbers as numbers; text case-insensitively."""
    if name in _DATE_PROPERTIES:
        if value.isdigit():
            return datetime.fromtimestamp(int(value) / 1000, UTC)
        return datetime.fromisoformat(value.replace("Z", "+00:00"))
    try:
        return float(value)
    except ValueError:
        return value.lower()
