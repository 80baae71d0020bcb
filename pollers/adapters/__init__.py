"""Source adapters: one module per API, one line each in :data:`REGISTRY`.

Adding a source: write ``pollers/adapters/<name>.py`` with its config model (a ``type``
literal, every field described) and a class satisfying
:class:`~pollers.base.SourceAdapter`, then add one line below.
``tests/contract/test_pollers_contract.py`` runs the same scenarios against every entry.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel

from pollers.adapters.hubspot import HubSpotAdapter, HubSpotPollConfig
from pollers.adapters.shopify import ShopifyAdapter, ShopifyPollConfig
from pollers.base import SourceAdapter


@dataclass(frozen=True, slots=True)
class AdapterSpec:
    config_model: type[BaseModel]
    build: Callable[[Any], SourceAdapter]


REGISTRY: dict[str, AdapterSpec] = {
    "hubspot": AdapterSpec(HubSpotPollConfig, HubSpotAdapter),
    "shopify": AdapterSpec(ShopifyPollConfig, ShopifyAdapter),
}
