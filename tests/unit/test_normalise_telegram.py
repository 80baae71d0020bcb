"""Telegram updates -> Message, on the Bot API docs' sample updates (all ``update_id``
10000) plus hand-written channel posts, replies and captions."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import orjson
import pytest

from processors.normalisers import normalise
from processors.normalisers.base import InvalidPayload
from schemas.events import Message, Passthrough
from tests.unit.test_normalise_base import RECEIVED_AT, only, raw_event, sample, sample_json

SENT_AT = datetime(2015, 9, 7, 17, 5, 32, tzinfo=UTC)  # date 1441645532


def run(kind: str, body: dict[str, Any] | bytes) -> Any:
    return only(normalise(raw_event("telegram", kind, body, event_id="10000")))


@pytest.mark.parametrize("name", ["message_text.json", "message_text_first_example.json"])
def test_text_message(name: str) -> None:
    event = run("message", sample("telegram", name))
    data = event.data
    assert isinstance(data, Message)
    assert event.type == "dev.hookline.message.created"
    assert event.subject == "message:telegram:1111111:1365"
    assert (data.message_type, data.chat_id, data.text) == ("message", "1111111", "/start")
    assert data.sender.id == "1111111"
    assert data.sender.display_name is not None
    assert data.sent_at == data.updated_at == SENT_AT


def test_message_with_entities_keeps_its_text() -> None:
    assert run("message", sample("telegram", "message_with_entities.json")).data.text == (
        "Bold and italics"
    )


def test_edit_updates_the_same_message() -> None:
    original = run("message", sample("telegram", "message_text.json"))
    edit = run("edited_message", sample("telegram", "edited_message.json"))
    assert edit.type == "dev.hookline.message.updated"
    assert edit.subject == original.subject
    assert edit.data.message_type == "edited_message"
    assert edit.data.text == "Edited text"
    assert edit.data.sent_at == SENT_AT
    assert edit.data.updated_at == datetime(2015, 9, 7, 17, 23, 20, tzinfo=UTC)  # edit_date


def test_callback_query() -> None:
    event = run("callback_query", sample("telegram", "callback_query.json"))
    data = event.data
    assert event.type == "dev.hookline.message.created"
    assert data.id == "telegram:callback_query:4382bfdwdsb323b2d9"
    assert (data.message_type, data.callback_data) == (
        "callback_query",
        "Data from button callback",
    )
    assert data.sender.username == "Testusername"
    assert (data.chat_id, data.reply_to_id) == (None, None)  # an inline message's button
    assert data.updated_at == RECEIVED_AT  # callback queries carry no time


def test_callback_query_on_a_chat_message_points_at_it() -> None:
    body = sample_json("telegram", "callback_query.json")
    body["callback_query"]["message"] = sample_json("telegram", "message_text.json")["message"]
    data = run("callback_query", body).data
    assert (data.chat_id, data.reply_to_id) == ("1111111", "telegram:1111111:1365")


def test_inline_query_passes_through() -> None:
    event = run("inline_query", sample("telegram", "inline_query.json"))
    assert isinstance(event.data, Passthrough)
    assert event.data.id == "telegram:src:10000"
    assert event.data.payload["inline_query"]["query"] == "inline query"


CHANNEL_POST = {
    "update_id": 10001,
    "channel_post": {
        "message_id": 42,
        "sender_chat": {
            "id": -1001234567890,
            "title": "Hookline News",
            "type": "channel",
            "username": "hooklinenews",
        },
        "chat": {"id": -1001234567890, "title": "Hookline News", "type": "channel"},
        "date": 1717171717,
        "caption": "Release notes",
        "photo": [{"file_id": "AgAC", "file_unique_id": "AQAD", "width": 90, "height": 51}],
    },
}


def test_channel_post_with_caption_and_sender_chat() -> None:
    event = run("channel_post", CHANNEL_POST)
    data = event.data
    assert event.subject == "message:telegram:-1001234567890:42"
    assert (data.message_type, data.text) == ("channel_post", "Release notes")
    assert (data.sender.id, data.sender.display_name) == ("-1001234567890", "Hookline News")


def test_edited_channel_post_updates_the_post() -> None:
    body = {
        "update_id": 10002,
        "edited_channel_post": CHANNEL_POST["channel_post"] | {"edit_date": 1717171800},
    }
    event = run("edited_channel_post", body)
    assert event.type == "dev.hookline.message.updated"
    assert event.subject == "message:telegram:-1001234567890:42"


def test_reply_points_at_the_message_replied_to() -> None:
    body = sample_json("telegram", "message_text.json")
    body["message"]["reply_to_message"] = body["message"] | {"message_id": 1300}
    assert run("message", body).data.reply_to_id == "telegram:1111111:1300"


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (lambda m: m.pop("chat"), "chat"),
        (lambda m: m.pop("date"), "date"),
        (lambda m: m.update(message_id=None), "message_id"),
        (lambda m: m.update(text=["not", "text"]), "text"),
    ],
)
def test_malformed_messages_are_invalid(mutate: Any, reason: str) -> None:
    body = sample_json("telegram", "message_text.json")
    mutate(body["message"])
    with pytest.raises(InvalidPayload, match=reason):
        run("message", body)


def test_update_without_update_id_is_invalid() -> None:
    with pytest.raises(InvalidPayload, match="update_id"):
        run("message", {"message": {}})


def test_docs_samples_share_update_id_and_one_update_gives_one_id() -> None:
    body = sample("telegram", "message_text.json")
    assert run("message", body).id == run("message", orjson.loads(body)).id
