"""kill -9 a connector process in the middle of a batch, restart it: nothing is lost and
nothing is applied twice (the fake API counts effective writes per idempotency key)."""

from __future__ import annotations

import asyncio
import os
import signal
import sys
from pathlib import Path

from hookline.settings import Settings
from hookline.topics import Topics
from sandbox.destination_api import TOKEN, FakeDestinationApi
from tests.conftest import ROOT
from tests.fakes.connector_harness import customer_event, produce, until

ENTITIES, VERSIONS = 100, 3

CONFIG = """
[connectors.crm]
families = ["customer"]
batch_size = 100
concurrency = 4
poll_timeout_seconds = 0.2
session_timeout_ms = {session_ms}
retry = {{ delays_seconds = [0.2, 0.4] }}

[connectors.crm.destination]
type = "http_upsert"
base_url = "{base_url}"
token = "secret:api_token"
"""


async def start_connector(
    settings: Settings, config: Path, log: Path
) -> asyncio.subprocess.Process:
    env = {
        **os.environ,
        "HOOKLINE_KAFKA__TOPIC_PREFIX": settings.kafka.topic_prefix,
        "HOOKLINE_KAFKA__DEFAULT_PARTITIONS": str(settings.kafka.default_partitions),
        "HOOKLINE_POSTGRES__DATABASE": settings.postgres.database,
        "HOOKLINE_SECRETS__API_TOKEN": TOKEN,
        "HOOKLINE_CONNECTORS__METRICS_PORT": "0",
        "HOOKLINE_CONNECTORS__INSTANCE_ID": "crash-test",
        "HOOKLINE_LOG__LEVEL": "WARNING",
        "HOOKLINE_CONNECTORS__CONFIG_FILE": str(config),
    }
    with log.open("ab") as out:
        return await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "connectors",
            cwd=ROOT,
            env=env,
            stdout=out,
            stderr=out,
        )


async def test_kill_9_mid_batch_and_restart_loses_nothing_and_applies_nothing_twice(
    connector_settings: Settings, tmp_path: Path
) -> None:
    api = FakeDestinationApi(latency=0.02)
    await api.start()
    config, log = tmp_path / "connectors.toml", tmp_path / "connector.log"
    config.write_text(CONFIG.format(base_url=api.base_url, session_ms=6000))
    topics = Topics(connector_settings.kafka.topic_prefix)
    events = [
        customer_event(f"e{n}", version, phone=f"v{version}")
        for version in range(1, VERSIONS + 1)
        for n in range(ENTITIES)
    ]
    produce(connector_settings, topics.events("customer"), events)
    first = await start_connector(connector_settings, config, log)
    try:
        await until(lambda: api.total_effective_writes >= 60, 30, "the first writes")
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        assert api.total_effective_writes < len(events)  # killed mid-way
        second = await start_connector(connector_settings, config, log)
        await until(lambda: api.total_effective_writes == len(events), 40, "every change")
        second.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(second.wait(), 30) == 0, log.read_text()[-3000:]
    finally:
        for proc in (first, locals().get("second")):
            if proc is not None and proc.returncode is None:
                proc.kill()
        await api.close()
    assert len(api.effective_writes) == len(events)  # nothing lost
    assert set(api.effective_writes.values()) == {1}  # nothing applied twice
    assert api.regressions == 0  # no older version over a newer one
    assert {api.state[f"cust:e{n}"]["phone"] for n in range(ENTITIES)} == {f"v{VERSIONS}"}


async def test_a_killed_instance_restarted_under_its_instance_id_takes_its_partitions_back_at_once(
    connector_settings: Settings, tmp_path: Path
) -> None:
    """Static membership (``HOOKLINE_CONNECTORS__INSTANCE_ID``): the restarted process
    rejoins as itself, so it delivers well before the dead one's session (a minute here)
    would have timed out; with dynamic membership it would wait that minute first."""
    api = FakeDestinationApi()
    await api.start()
    config, log = tmp_path / "connectors.toml", tmp_path / "connector.log"
    config.write_text(CONFIG.format(base_url=api.base_url, session_ms=60_000))
    topic = Topics(connector_settings.kafka.topic_prefix).events("customer")
    produce(connector_settings, topic, [customer_event(f"s{n}", 1) for n in range(10)])
    first = await start_connector(connector_settings, config, log)
    try:
        await until(lambda: api.total_effective_writes == 10, 60, "the first changes")
        first.send_signal(signal.SIGKILL)
        assert await first.wait() == -signal.SIGKILL
        produce(connector_settings, topic, [customer_event(f"s{n}", 1) for n in range(10, 20)])
        second = await start_connector(connector_settings, config, log)
        await until(lambda: api.total_effective_writes == 20, 30, "the changes after the restart")
    finally:
        for proc in (first, locals().get("second")):
            if proc is not None and proc.returncode is None:
                proc.kill()
                await proc.wait()
        await api.close()
