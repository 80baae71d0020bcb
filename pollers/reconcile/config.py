"""Reconciliation configuration: the ``[reconcile]`` table of the pollers file.

::

    [reconcile]
    interval_seconds = 86400        # once a day, one instance (lease "reconcile:<name>")

    [reconcile.systems.warehouse]
    type = "warehouse"              # hookline's own database, schema warehouse
    key = "email"

    [reconcile.systems.crm]
    type = "hubspot"
    base_url = "https://api.hubapi.com"
    token = "secret:hubspot_token"
    key_property = "email"

    [reconcile.pairs.crm]
    left = "warehouse"
    right = "crm"
    family = "customer"
    truth = "warehouse"             # repair re-emits from here ...
    repair_connector = "crm"        # ... to the connector that writes the other side

Both sides of a pair must use the same key (the customer's email, or the canonical
customer ID: the warehouse's ``id`` and a CRM property the connector fills with it, e.g.
HubSpot's ``hookline_external_id`` with the connector's ``contact_id_property``).
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError, model_validator

from hookline.config_files import ConfigFileError, describe, load_document, resolve_secret


class _Config(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class WarehouseSystem(_Config):
    type: Literal["warehouse"] = "warehouse"
    key: Literal["email", "id"] = Field(
        "email", description="What identifies a customer: its email, or the canonical ID."
    )


class HubSpotSystem(_Config):
    type: Literal["hubspot"] = "hubspot"
    base_url: str = Field("https://api.hubapi.com", description="The CRM API's base URL.")
    token: SecretStr = Field(description="Private-app token ('secret:<name>').")
    key_property: str = Field(
        "email", description="Contact property holding the key (email, hookline_external_id)."
    )
    timeout_seconds: float = Field(30.0, gt=0, description="Longest wait for one page.")


class ShopifySystem(_Config):
    type: Literal["shopify"] = "shopify"
    base_url: str = Field(description="The shop's URL, e.g. https://example.myshopify.com.")
    token: SecretStr = Field(description="Admin API access token ('secret:<name>').")
    api_version: str = Field("2025-01", description="Admin API version in the URL.")
    timeout_seconds: float = Field(30.0, gt=0, description="Longest wait for one page.")


SystemConfig = Annotated[
    WarehouseSystem | HubSpotSystem | ShopifySystem, Field(discriminator="type")
]


class PairConfig(_Config):
    left: str = Field(description="A system name of [reconcile.systems].")
    right: str = Field(description="The other system.")
    family: Literal["customer"] = Field("customer", description="The entity family compared.")
    truth: str | None = Field(
        None, description="The source of truth (a warehouse system of this pair); None: no repair."
    )
    repair_connector: str | None = Field(
        None, description="The connector writing the other system: its state is cleared."
    )

    @property
    def label(self) -> str:
        """The ``pair`` label of rows and metrics: ``left~right``."""
        return f"{self.left}~{self.right}"

    @model_validator(mode="after")
    def _repairable(self) -> PairConfig:
        if self.truth is not None and self.truth not in (self.left, self.right):
            raise ValueError("truth must be the pair's left or right system")
        if (self.truth is None) != (self.repair_connector is None):
            raise ValueError("truth and repair_connector go together")
        return self


class ReconcileConfig(_Config):
    name: str = Field("reconcile", description="Names the lease, sync runs and rows.")
    interval_seconds: float = Field(86400.0, gt=0, description="Time between two runs.")
    jitter: float = Field(0.1, ge=0, lt=1, description="Random spread, a share of the interval.")
    lease_seconds: float = Field(
        60.0, gt=0, description="How long a dead holder keeps the run before another takes it."
    )
    repair: bool = Field(False, description="Scheduled runs repair what they find, too.")
    systems: dict[str, SystemConfig] = Field(description="The systems compared, by name.")
    pairs: dict[str, PairConfig] = Field(description="What is compared with what.")

    @model_validator(mode="after")
    def _known_systems(self) -> ReconcileConfig:
        for name, pair in self.pairs.items():
            unknown = {pair.left, pair.right} - set(self.systems)
            if unknown:
                raise ValueError(f"pair {name!r}: unknown systems {sorted(unknown)}")
            if pair.truth is not None and self.systems[pair.truth].type != "warehouse":
                raise ValueError(f"pair {name!r}: the truth must be a warehouse system")
        return self


def load_reconcile(path: Path, secrets: Mapping[str, SecretStr]) -> ReconcileConfig | None:
    return parse_reconcile(load_document(path), secrets)


def parse_reconcile(
    document: Mapping[str, Any], secrets: Mapping[str, SecretStr]
) -> ReconcileConfig | None:
    """The ``[reconcile]`` table (None when absent), secrets resolved."""
    table = document.get("reconcile")
    if table is None:
        return None
    if not isinstance(table, dict) or not isinstance(table.get("systems", {}), dict):
        raise ConfigFileError("[reconcile] must be a table with [reconcile.systems.<name>]")
    systems = {
        name: _resolved(system, secrets, f"reconcile.systems.{name}")
        for name, system in table.get("systems", {}).items()
    }
    try:
        return ReconcileConfig.model_validate({**table, "systems": systems})
    except ValidationError as exc:
        raise ConfigFileError(f"[reconcile]: {describe(exc)}") from None


def _resolved(system: Any, secrets: Mapping[str, SecretStr], where: str) -> Any:
    if not isinstance(system, dict):
        raise ConfigFileError(f"{where} must be a table")
    return {
        k: resolve_secret(v, secrets, f"{where}.{k}") if isinstance(v, str) else v
        for k, v in system.items()
    }
