"""The demo's configuration, packaged with the launcher (``launcher/demo_config/``).

``hookline run`` and ``hookline demo`` use the packaged sources and connectors files (the
four flows) for whatever the settings do not name explicitly, and the stand-ins' tokens
(generic API, HubSpot, Shopify) when no ``demo_*_token`` secret is set, so the demo runs
from the installed wheel in any directory. Settings given explicitly always win.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from hookline.settings import Settings
from sandbox import destination_api, hubspot, shopify

#: secret name -> the stand-in's demo token (public by design, loopback only)
DEMO_TOKENS = {
    "demo_api_token": destination_api.TOKEN,
    "demo_hubspot_token": hubspot.PRIVATE_TOKEN,
    "demo_shopify_token": shopify.TOKEN,
}


def packaged(name: str) -> Path:
    """A file of ``launcher/demo_config`` (``sources.toml``, ``connectors.toml``)."""
    return Path(str(resources.files("launcher") / "demo_config" / name))


def demo_sources_file(settings: Settings) -> Path:
    """The sources file the demo uses: the configured one, else the packaged demo's."""
    if "sources_file" in settings.ingress.model_fields_set:
        return settings.ingress.sources_file
    return packaged("sources.toml")


def demo_environ(settings: Settings, environ: Mapping[str, str]) -> dict[str, str]:
    """``environ`` for the demo's processes: plus the packaged files and tokens where
    ``settings`` names none."""
    env = dict(environ)
    env["HOOKLINE_INGRESS__SOURCES_FILE"] = str(demo_sources_file(settings))
    if "config_file" not in settings.connectors.model_fields_set:
        env["HOOKLINE_CONNECTORS__CONFIG_FILE"] = str(packaged("connectors.toml"))
    for name, token in DEMO_TOKENS.items():
        if name not in settings.secrets:
            env[f"HOOKLINE_SECRETS__{name.upper()}"] = token
    return env
