"""Destination registry: one module per destination type, one line each here.

Adding a destination: write ``connectors/destinations/<name>.py`` with a config model (a
``DestinationConfig`` subclass tagged by its ``type`` Literal), the destination and a
``SPEC`` (see :mod:`connectors.destinations.base`), then add one line below. A connector's
``destination`` table is validated by the model registered under its ``type``: together
the registered models form the union tagged on ``type``. A test checks that every module
in this package is registered.
"""

from __future__ import annotations

from connectors.destinations import http_upsert, hubspot, shopify, warehouse
from connectors.destinations.base import DestinationSpec

REGISTRY: dict[str, DestinationSpec] = {
    http_upsert.SPEC.name: http_upsert.SPEC,
    hubspot.SPEC.name: hubspot.SPEC,
    shopify.SPEC.name: shopify.SPEC,
    warehouse.SPEC.name: warehouse.SPEC,
}
