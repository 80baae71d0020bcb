"""`hookline run` end to end: signed demo webhooks through ingress, processors and the
flows' connectors into the stand-in HubSpot and Shopify and the warehouse, an alert into
the stand-in Telegram's admin chat, then a clean Ctrl-C. This is what `make run` starts."""

from __future__ import annotations

import socket
from pathlib import Path

from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from tests.integration.demo_run import (
    ALERT_IN_CHAT,
    SERVICES,
    TOKENS,
    demo_env,
    free_ports,
    run_demo_until_applied,
)


def test_demo_traffic_reaches_the_destination_and_ctrl_c_stops_everything(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings, tmp_path: Path
) -> None:
    ports = free_ports()
    env = demo_env(settings, fresh_database, tmp_path, ports)
    run = run_demo_until_applied(env, ports, tmp_path / "run.log")
    assert run.applied >= 5, run.output[-3000:]
    # every flow's destination received changes: the shop, the CRM and the warehouse
    assert all(count >= 1 for count in run.applied_by.values()), run.applied_by
    assert run.accepted >= 1
    assert run.forwarded >= 1
    # the CRM refused the demo's mistyped customer: dead-lettered, alerted to the admin chat
    assert ALERT_IN_CHAT.search(run.output), run.output[-3000:]
    assert run.returncode == 0, run.output[-3000:]
    assert "Traceback" not in run.output
    assert not [t for t in TOKENS if t in run.output]  # the destinations' tokens never logged
    for name in SERVICES:  # every child is gone
        with socket.socket() as sock:  # REUSEADDR: only a live listener makes bind fail
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", ports[name]))
