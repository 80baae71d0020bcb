"""The demo's packaged flows config: one file, the stand-ins' addresses from settings."""

from __future__ import annotations

from pydantic import SecretStr

from connectors.alerts import load_alerts
from connectors.config import load_connectors
from hookline.settings import Settings
from launcher.demo_config import demo_environ, packaged
from sandbox import hubspot, telegram

PORTS = {"hubspot": 18091, "shopify": 18092, "telegram": 18093}


def secrets_of(env: dict[str, str]) -> dict[str, SecretStr]:
    prefix = "HOOKLINE_SECRETS__"
    return {k[len(prefix) :].lower(): SecretStr(v) for k, v in env.items() if k.startswith(prefix)}


def test_hookline_run_points_the_flows_and_alerts_at_the_stand_ins_it_starts() -> None:
    env = demo_environ(Settings(_env_file=None), {}, PORTS)  # type: ignore[call-arg]
    path = env["HOOKLINE_CONNECTORS__CONFIG_FILE"]
    assert path == str(packaged("connectors.toml"))
    connectors = load_connectors(packaged("connectors.toml"), secrets_of(env))
    assert connectors["crm"].destination.base_url == "http://127.0.0.1:18091"  # type: ignore[attr-defined]
    assert connectors["shop"].destination.base_url == "http://127.0.0.1:18092"  # type: ignore[attr-defined]
    alerts = load_alerts(packaged("connectors.toml"), secrets_of(env))
    assert alerts is not None
    assert alerts.base_url == "http://127.0.0.1:18093"
    assert alerts.bot_token.get_secret_value() == telegram.TOKEN


def test_secrets_set_explicitly_win_over_the_demo_defaults() -> None:
    settings = Settings(  # type: ignore[call-arg]
        _env_file=None, secrets={"demo_hubspot_url": "http://crm.internal:8091"}
    )
    env = demo_environ(settings, {}, PORTS)
    assert "HOOKLINE_SECRETS__DEMO_HUBSPOT_URL" not in env
    assert env["HOOKLINE_SECRETS__DEMO_HUBSPOT_TOKEN"] == hubspot.PRIVATE_TOKEN
