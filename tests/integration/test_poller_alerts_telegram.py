"""`hookline pollers` alerts through Telegram: the pollers file's ``[alerts]`` table (the
connectors file's) makes a poller's three failed runs in a row a message in the admin
chat of the Bot API stand-in."""

from __future__ import annotations

import asyncio
from pathlib import Path

from pydantic import SecretStr

from hookline.settings import PostgresSettings, Settings
from hookline.topics import Topics
from pollers.main import alerting, configured, serve_until
from sandbox.destination_api import Reply
from sandbox.shopify import FakeShopify
from sandbox.telegram import TOKEN, FakeTelegram

CHAT = "-1001234567890"


def pollers_file(path: Path, shop: FakeShopify, telegram: FakeTelegram) -> Path:
    path.write_text(
        f"""
[pollers.orders]
source = "shop"
interval_seconds = 0.05
jitter = 0

[pollers.orders.api]
type = "shopify"
base_url = "{shop.base_url}"
token = "secret:shop_token"

[alerts]
type = "telegram"
bot_token = "secret:telegram_bot_token"
chat_id = "{CHAT}"
base_url = "{telegram.base_url}"
"""
    )
    return path


async def wait_for_message(telegram: FakeTelegram, task: asyncio.Task[None]) -> None:
    """Until the chat got a message (or the pollers stopped on their own)."""
    for _ in range(600):
        if telegram.messages or task.done():
            return
        await asyncio.sleep(0.05)


async def test_a_poller_failing_three_runs_in_a_row_alerts_the_telegram_chat(
    settings: Settings, topics: Topics, fresh_database: PostgresSettings, tmp_path: Path
) -> None:
    shop, telegram = FakeShopify(maximum_available=1e9, restore_rate=1e9), FakeTelegram()
    await shop.start()
    await telegram.start()
    shop.script_calls(*[Reply(status=500)] * 3)  # then the shop answers again
    secrets = {"shop_token": SecretStr(shop.token), "telegram_bot_token": SecretStr(TOKEN)}
    pollers = settings.pollers.model_copy(
        update={
            "config_file": pollers_file(tmp_path / "pollers.toml", shop, telegram),
            "metrics_port": 0,
        }
    )
    live = settings.model_copy(
        update={"postgres": fresh_database, "pollers": pollers, "secrets": secrets}
    )
    stop = asyncio.Event()
    try:
        task = asyncio.create_task(serve_until(stop, live, configured(live), None, alerting(live)))
        await wait_for_message(telegram, task)
        stop.set()
        await task
    finally:
        await shop.close()
        await telegram.close()

    [message] = telegram.messages
    assert message.chat_id == CHAT
    assert "runs_failing · orders" in message.text
    assert "HTTP 500" in message.text
    assert shop.token not in message.raw
    assert TOKEN not in message.raw
