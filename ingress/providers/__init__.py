"""Provider registry: one module per provider type, one line each here.

Adding a provider: write ``ingress/providers/<name>.py`` with a config model (a
``SourceConfig`` subclass tagged by its ``provider`` Literal) and a ``PROVIDER`` object
(see :mod:`ingress.providers.base`), then add one line below. The sources file is
validated against the registered config models, which act as a union tagged on
``provider``; ``tests/contract`` runs the same scenarios against every entry.
"""

from __future__ import annotations

from ingress.providers import github
from ingress.providers.base import Provider

REGISTRY: dict[str, Provider] = {
    github.PROVIDER.name: github.PROVIDER,
}
