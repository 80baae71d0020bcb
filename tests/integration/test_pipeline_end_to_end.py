"""`hookline run` end to end: signed demo webhooks through ingress, processors and a
connector into the stand-in API, then a clean Ctrl-C. This is what `make run` starts."""

from __future__ import annotations

import socket
from pathlib import Path

from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from tests.integration.demo_run import API_TOKEN, demo_env, free_ports, run_demo_until_applied


def test_demo_traffic_reaches_the_destination_and_ctrl_c_stops_everything(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings, tmp_path: Path
) -> None:
    ports = free_ports()
    env = demo_env(settings, fresh_database, tmp_path, ports)
    run = run_demo_until_applied(env, ports, tmp_path / "run.log")
    assert run.applied >= 5, run.output[-3000:]
    assert run.accepted >= run.applied
    assert run.forwarded >= run.applied
    assert run.returncode == 0, run.output[-3000:]
    assert "Traceback" not in run.output
    assert API_TOKEN not in run.output  # the destination token is never logged
    for name in ("ingress", "api", "connectors", "processors"):  # every child is gone
        with socket.socket() as sock:  # REUSEADDR: only a live listener makes bind fail
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            sock.bind(("127.0.0.1", ports[name]))
