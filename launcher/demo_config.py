"""The demo's configuration, packaged with the launcher (``launcher/demo_config/``).

``hookline run`` and ``hookline demo`` use the packaged sources and connectors files (the
four flows, alerts to Telegram) for whatever the settings do not name explicitly. The
connectors file names the stand-ins' base URLs and tokens as secrets (``demo_*_url``,
``demo_*_token``), so the one file serves every route: ``hookline run`` fills in the
loopback stand-ins it starts (:func:`demo_secrets`) when no such secret is set, Docker
Compose sets them to its service names in ``deploy/demo.env``. The demo runs from the
installed wheel in any directory. Settings given explicitly always win.
"""

from __future__ import annotations

from collections.abc import Mapping
from importlib import resources
from pathlib import Path

from hookline.settings import Settings
from sandbox import destination_api, hubspot, shopify, telegram

#: secret name -> the stand-in's demo token (public by design, loopback only)
DEMO_TOKENS = {
    "demo_api_token": destination_api.TOKEN,
    "demo_hubspot_token": hubspot.PRIVATE_TOKEN,
    "demo_shopify_token": shopify.TOKEN,
    "demo_telegram_bot_token": telegram.TOKEN,
}
#: stand-in -> its port under ``hookline run`` (``--<name>-port``)
DEMO_PORTS = {"hubspot": 8091, "shopify": 8092, "telegram": 8093}


def packaged(name: str) -> Path:
    """A file of ``launcher/demo_config`` (``sources.toml``, ``connectors.toml``)."""
    return Path(str(resources.files("launcher") / "demo_config" / name))


def demo_sources_file(settings: Settings) -> Path:
    """The sources file the demo uses: the configured one, else the packaged demo's."""
    if "sources_file" in settings.ingress.model_fields_set:
        return settings.ingress.sources_file
    return packaged("sources.toml")


def demo_secrets(ports: Mapping[str, int] = DEMO_PORTS) -> dict[str, str]:
    """The secrets the packaged connectors file names, for stand-ins on these loopback
    ports: ``demo_<stand-in>_url`` and the stand-ins' tokens."""
    urls = {f"demo_{name}_url": f"http://127.0.0.1:{port}" for name, port in ports.items()}
    return urls | DEMO_TOKENS


def demo_environ(
    settings: Settings, environ: Mapping[str, str], ports: Mapping[str, int] = DEMO_PORTS
) -> dict[str, str]:
    """``environ`` for the demo's processes: plus the packaged files, and the stand-ins'
    URLs (on ``ports``) and tokens, where ``settings`` names none."""
    env = dict(environ)
    env["HOOKLINE_INGRESS__SOURCES_FILE"] = str(demo_sources_file(settings))
    if "config_file" not in settings.connectors.model_fields_set:
        env["HOOKLINE_CONNECTORS__CONFIG_FILE"] = str(packaged("connectors.toml"))
    for name, value in demo_secrets(ports).items():
        if name not in settings.secrets:
            env[f"HOOKLINE_SECRETS__{name.upper()}"] = value
    return env
