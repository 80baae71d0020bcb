"""Telegram alerts against the local Bot API stand-in: escaping for both parse modes,
flood control honoured, one message per kind per interval, no secret in any text; and the
stand-in itself refusing what Telegram refuses."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import aiohttp
import pytest
from pydantic import SecretStr

from connectors.alerts import Alert, Alerter, TelegramAlertConfig, TelegramAlertSink, load_alerts
from connectors.errors import ConfigError
from connectors.metrics import ConnectorMetrics
from hookline.metrics import new_registry
from sandbox.telegram import TOKEN, FakeTelegram
from tests.unit.test_connector_alerts import Clock

CHAT = "-1001234567890"
HOSTILE = "<script>alert(1)</script> & </b> _*[]()~`>#+-=|{}.!\\ 'quoted' \"too\""


@pytest.fixture
async def telegram() -> AsyncIterator[FakeTelegram]:
    fake = FakeTelegram(messages_per_second=1)
    await fake.start()
    yield fake
    await fake.close()


def config_for(fake: FakeTelegram, **overrides: object) -> TelegramAlertConfig:
    fields: dict[str, object] = {
        "bot_token": SecretStr(TOKEN), "chat_id": CHAT, "base_url": fake.base_url,
    }  # fmt: skip
    return TelegramAlertConfig.model_validate({**fields, **overrides})


async def send_all(sink: TelegramAlertSink, *alerts: Alert) -> None:
    for alert in alerts:
        await sink.send(alert)
    await sink.flush()
    await sink.close()


@pytest.mark.parametrize("parse_mode", ["HTML", "MarkdownV2"])
async def test_hostile_text_is_escaped_and_shown_as_written(
    telegram: FakeTelegram, parse_mode: str
) -> None:
    sink = TelegramAlertSink(config_for(telegram, parse_mode=parse_mode))
    details = {"error": HOSTILE, "entity": "cust:<a href='x'>"}
    await send_all(sink, Alert("crm_[1]", "dead_letter", f"summary {HOSTILE}", details))
    assert [c.status for c in telegram.calls] == [200]
    [message] = telegram.messages
    assert message.parse_mode == parse_mode
    assert f"summary {HOSTILE}" in message.text  # the chat shows the text as written
    assert f"error: {HOSTILE}" in message.text
    assert "crm_[1]" in message.text


async def test_429_waits_retry_after_and_delivers(telegram: FakeTelegram) -> None:
    sink = TelegramAlertSink(config_for(telegram))
    await send_all(
        sink,
        Alert("crm", "dead_letter", "first"),
        Alert("crm", "breaker_open", "second"),  # within Telegram's one message a second
    )
    assert [c.status for c in telegram.calls] == [200, 429, 200]
    assert [m.text.splitlines()[2] for m in telegram.messages] == ["first", "second"]


async def test_one_message_per_kind_per_interval(telegram: FakeTelegram) -> None:
    clock = Clock()
    sink = TelegramAlertSink(config_for(telegram, parse_mode="MarkdownV2"))
    alerter = Alerter(sink, ConnectorMetrics(new_registry()), 300, clock)
    dead = Alert("crm", "dead_letter", "a change was dead-lettered")
    for _ in range(3):
        await alerter.alert(dead)
    clock.now = 301
    await alerter.alert(dead)
    await sink.flush()
    await sink.close()
    assert len(telegram.messages) == 2
    assert "+2 more of this kind held back" in telegram.messages[1].text


async def test_no_secret_reaches_the_text(telegram: FakeTelegram) -> None:
    sink = TelegramAlertSink(config_for(telegram), secrets=["s3cr3t-api-key"])
    error = f"GET https://api.telegram.org/bot{TOKEN}/x failed; key=s3cr3t-api-key"
    other_bot = "987654321:ZZHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw9"
    await send_all(sink, Alert("crm", "crashed", f"token {other_bot}", {"error": error}))
    [message] = telegram.messages
    for secret in (TOKEN, "s3cr3t-api-key", other_bot):
        assert secret not in message.raw
    assert "[redacted]" in message.text


async def test_a_refused_token_is_not_retried(telegram: FakeTelegram) -> None:
    wrong = TOKEN[:-1] + "X"
    sink = TelegramAlertSink(config_for(telegram, bot_token=SecretStr(wrong)))
    await send_all(sink, Alert("crm", "dead_letter", "x"))
    assert [c.status for c in telegram.calls] == [401]
    assert not telegram.messages


@pytest.mark.parametrize(
    ("parse_mode", "text", "description"),
    [
        ("MarkdownV2", "version 1.2", "Character '.' is reserved"),
        ("MarkdownV2", "*bold", "Can't find end of Bold entity"),
        ("HTML", "<script>x</script>", 'Unsupported start tag "script"'),
        ("HTML", "a < b", "Unexpected '<'"),
        ("HTML", "<b>open", "Can't find end tag"),
        (None, "", "message text is empty"),
        (None, "x" * 4097, "message is too long"),
    ],
)
async def test_the_stand_in_refuses_what_telegram_refuses(
    telegram: FakeTelegram, parse_mode: str | None, text: str, description: str
) -> None:
    body: dict[str, str] = {"chat_id": CHAT, "text": text}
    if parse_mode:
        body["parse_mode"] = parse_mode
    async with aiohttp.ClientSession() as http:
        url = f"{telegram.base_url}/bot{TOKEN}/sendMessage"
        async with http.post(url, json=body) as response:
            answer = await response.json()
    assert response.status == 400
    assert answer["ok"] is False
    assert answer["error_code"] == 400
    assert description in answer["description"]


async def test_the_stand_in_accepts_entities_and_answers_a_message(
    telegram: FakeTelegram,
) -> None:
    body = {"chat_id": CHAT, "parse_mode": "MarkdownV2", "text": "*hi* `a.b` [x](http://e.x) 1\\.2"}
    async with aiohttp.ClientSession() as http:
        url = f"{telegram.base_url}/bot{TOKEN}/sendMessage"
        async with http.post(url, data=body) as response:
            answer = await response.json()
    assert response.status == 200
    assert answer["result"]["text"] == "hi a.b x 1.2"
    assert answer["result"]["chat"]["id"] == int(CHAT)


def test_alerts_table_reads_the_token_from_secrets(tmp_path: Path) -> None:
    path = tmp_path / "connectors.toml"
    path.write_text(
        '[alerts]\ntype = "telegram"\nbot_token = "secret:telegram_bot"\nchat_id = "-100"\n'
    )
    config = load_alerts(path, {"telegram_bot": SecretStr(TOKEN)})
    assert config is not None
    assert config.bot_token.get_secret_value() == TOKEN
    assert TOKEN not in repr(config)
    with pytest.raises(ConfigError, match="telegram_bot"):
        load_alerts(path, {})
