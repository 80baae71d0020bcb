"""Telegram Bot API updates -> Message.

The body is one Update: ``update_id`` plus exactly one field naming what happened.

====================  ===========  ========  =============================================
update field          family       action    Message
====================  ===========  ========  =============================================
message               message      created   message_type ``message``
edited_message        message      updated   ``edited_message``, same ID as the original
channel_post          message      created   ``channel_post``
edited_channel_post   message      updated   ``edited_message`` (the chat is the channel)
callback_query        message      created   ``callback_query``; ``reply_to_id`` is the
                                             message whose button was pressed
anything else         passthrough  received  (inline_query, poll, chat_member, …)
====================  ===========  ========  =============================================

A message's ID is ``telegram:{chat id}:{message id}`` (message IDs are per chat), so an
edit updates the message it edits and one chat's messages share a key. A callback query is
``telegram:callback_query:{id}``. ``text`` is the text or the media caption; ``sender`` is
``from``, or ``sender_chat`` for posts made on behalf of a chat.

``updated_at`` is ``edit_date``, else ``date``; callback queries and other updates carry
no time, so they take the ingress ``received_at``. ``sent_at`` is ``date``.
"""

from __future__ import annotations

from datetime import datetime

from processors.normalisers.base import ProviderNormaliser, RawEvent, event, passthrough
from processors.normalisers.fields import Obj, join_name, json_object
from schemas.events import CloudEvent, Message, Sender

#: update field -> (Message.message_type, action)
_MESSAGES = {
    "message": ("message", "created"),
    "edited_message": ("edited_message", "updated"),
    "channel_post": ("channel_post", "created"),
    "edited_channel_post": ("edited_message", "updated"),
}


class TelegramNormaliser(ProviderNormaliser):
    def convert(self, raw: RawEvent) -> list[CloudEvent]:
        body = json_object(raw.body)
        body.ident("update_id")
        kind = next((key for key in body.data if key != "update_id"), None)
        if kind in _MESSAGES:
            message_type, action = _MESSAGES[kind]
            return [event(raw, action, _message(body.req_child(kind), message_type))]
        if kind == "callback_query":
            query = body.req_child(kind)
            return [event(raw, "created", _callback(query, raw.headers.received_at))]
        return [passthrough(raw, dict(body.data))]


def message_id(message: Obj) -> tuple[str, str]:
    """(canonical ID, chat ID) of a Message object."""
    chat_id = message.req_child("chat").ident("id")
    return f"telegram:{chat_id}:{message.ident('message_id')}", chat_id


def _message(message: Obj, message_type: str) -> Message:
    entity_id, chat_id = message_id(message)
    sent_at = message.req_time("date")
    reply = message.child("reply_to_message")
    return Message(
        id=entity_id,
        external_ids={"telegram": entity_id.removeprefix("telegram:")},
        updated_at=message.time("edit_date") or sent_at,
        message_type=message_type,
        chat_id=chat_id,
        sender=_sender(message),
        text=message.text("text") or message.text("caption"),
        reply_to_id=message_id(reply)[0] if reply else None,
        sent_at=sent_at,
    )


def _callback(query: Obj, received_at: datetime) -> Message:
    native = query.ident("id")
    pressed = query.child("message")
    pressed_id, chat_id = message_id(pressed) if pressed else (None, None)
    return Message(
        id=f"telegram:callback_query:{native}",
        external_ids={"telegram": native},
        updated_at=received_at,
        message_type="callback_query",
        chat_id=chat_id,
        sender=_sender(query),
        callback_data=query.text("data"),
        reply_to_id=pressed_id,
    )


def _sender(obj: Obj) -> Sender | None:
    user = obj.child("from")
    if user is not None:
        return Sender(
            id=user.ident("id"),
            username=user.text("username"),
            display_name=join_name(user.text("first_name"), user.text("last_name")),
            is_bot=user.boolean("is_bot"),
        )
    chat = obj.child("sender_chat")
    if chat is None:
        return None
    return Sender(
        id=chat.ident("id"), username=chat.text("username"), display_name=chat.text("title")
    )


NORMALISER = TelegramNormaliser()
