"""A local Telegram Bot API stand-in: ``sendMessage``, as strict as the real one.

Imitates these documented behaviours of ``POST https://api.telegram.org/bot<token>/sendMessage``
(Telegram Bot API reference, "Making requests", "sendMessage", "Formatting options";
the shapes of errors from the official docs' ``ResponseParameters``):

- Parameters as JSON, form-encoded or in the query string: ``chat_id`` (required),
  ``text`` (required, 1-4096 characters *after* entity parsing), ``parse_mode``
  (``HTML``, ``MarkdownV2``; anything else 400), ``disable_notification``,
  ``message_thread_id``.
- Success: ``200 {"ok": true, "result": <Message>}`` (``message_id``, ``date``, ``chat``,
  ``text`` as parsed; ``entities`` are not reproduced).
- Errors: ``{"ok": false, "error_code": N, "description": …}``; 404 ``Not Found`` for a
  malformed token or an unknown method, 401 ``Unauthorized`` for a well-formed but wrong
  token, 400 ``Bad Request: …`` for a missing chat, an empty or too long text, an unknown
  parse mode, and text the parse mode cannot parse (``can't parse entities: …``):
  HTML with an unsupported tag, an unclosed tag or a bare ``<``, ``>`` or ``&``;
  MarkdownV2 with an unescaped reserved character (``_*[]()~`>#+-=|{}.!``) outside an
  entity or an entity left open.
- Flood control: more than ``messages_per_second`` (default 1, Telegram's "about one
  message per second" per chat) in one chat answers ``429`` with
  ``parameters.retry_after`` (whole seconds) and a ``Retry-After`` header.

Every call is recorded (status, chat), every message sent too (chat, parsed text, the
raw text and its parse mode).
"""

from __future__ import annotations

import math
import re
import time
from collections import deque
from dataclasses import dataclass
from typing import Any

from aiohttp import web

from sandbox.serving import KEPT, listen, main

TOKEN = "123456789:AAHdqTcvCH1vGWJxfSeofSAs0K5PALDsaw1"  # noqa: S105 - the stand-in's own
MAX_TEXT = 4096
_TOKEN_SHAPE = re.compile(r"^[0-9]{1,20}:[A-Za-z0-9_-]{30,60}$")
_HTML_TAGS = frozenset({
    "b", "strong", "i", "em", "u", "ins", "s", "strike", "del", "span", "tg-spoiler", "a",
    "code", "pre", "blockquote", "tg-emoji",
})  # fmt: skip
_HTML_TOKEN = re.compile(
    r"<(/?)([A-Za-z-]*)((?:\s[^<>]*)?)>|&(#[0-9]+|#x[0-9A-Fa-f]+|lt|gt|amp|quot);"
)
_MD_RESERVED = frozenset("_*[]()~`>#+-=|{}.!")
_MD_TOGGLES = {"*": "Bold", "_": "Italic", "__": "Underline", "~": "Strikethrough",
               "||": "Spoiler", "`": "Code"}  # fmt: skip


class EntityError(ValueError):
    """The text cannot be parsed in its parse mode (Telegram's "can't parse entities")."""


@dataclass(frozen=True)
class Call:
    status: int
    chat_id: str | None


@dataclass(frozen=True)
class SentMessage:
    message_id: int
    chat_id: str
    text: str  # as parsed: what the chat shows
    raw: str  # as sent
    parse_mode: str | None


def parse_html(text: str) -> str:
    """The visible text of ``text`` in parse mode HTML; ``EntityError`` if Telegram would
    refuse it."""
    out: list[str] = []
    open_tags: list[str] = []
    position = 0
    for match in _HTML_TOKEN.finditer(text):
        out.append(_plain_html(text[position : match.start()], position))
        position = match.end()
        closing, name, _attributes, entity = match.groups()
        if entity is not None:
            out.append(_entity(entity))
        elif name.lower() not in _HTML_TAGS:
            kind = "end" if closing else "start"
            raise EntityError(f'Unsupported {kind} tag "{name}" at byte offset {match.start()}')
        elif closing:
            if not open_tags or open_tags.pop() != name.lower():
                raise EntityError(f"Unmatched end tag at byte offset {match.start()}")
        else:
            open_tags.append(name.lower())
    out.append(_plain_html(text[position:], position))
    if open_tags:
        raise EntityError(f'Can\'t find end tag corresponding to start tag "{open_tags[-1]}"')
    return "".join(out)


def _plain_html(chunk: str, offset: int) -> str:
    for index, char in enumerate(chunk):
        if char in "<>&":
            raise EntityError(
                f"Unexpected {char!r} at byte offset {offset + index}: replace it with an entity"
            )
    return chunk


def _entity(entity: str) -> str:
    named = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
    if entity in named:
        return named[entity]
    return chr(int(entity[2:], 16) if entity.startswith("#x") else int(entity[1:]))


def parse_markdown_v2(text: str) -> str:
    """The visible text of ``text`` in parse mode MarkdownV2; ``EntityError`` if Telegram
    would refuse it. Links ``[label](url)`` and the toggled entities are understood."""
    out: list[str] = []
    open_entities: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "\\" and index + 1 < len(text):
            out.append(text[index + 1])
            index += 2
            continue
        if open_entities[-1:] == ["`"] and char != "`":  # inside code only ` is special
            out.append(char)
            index += 1
            continue
        pair = text[index : index + 2]
        token = pair if pair in ("__", "||") else char
        if token in _MD_TOGGLES:
            if open_entities and open_entities[-1] == token:
                open_entities.pop()
            else:
                open_entities.append(token)
            index += len(token)
        elif char == "[":
            index = _md_link(text, index, out)
        elif char in _MD_RESERVED:
            raise EntityError(
                f"Character '{char}' is reserved and must be escaped with the preceding '\\'"
            )
        else:
            out.append(char)
            index += 1
    if open_entities:
        raise EntityError(f"Can't find end of {_MD_TOGGLES[open_entities[-1]]} entity")
    return "".join(out)


def _md_link(text: str, start: int, out: list[str]) -> int:
    """``[label](url)`` at ``start``: the label's visible text appended; the index after."""
    close = text.find("](", start)
    end = text.find(")", close + 2) if close > 0 else -1
    if close < 0 or end < 0:
        raise EntityError("Character '[' is reserved and must be escaped with the preceding '\\'")
    out.append(parse_markdown_v2(text[start + 1 : close]))
    return end + 1


_PARSERS = {"HTML": parse_html, "MarkdownV2": parse_markdown_v2}


class FakeTelegram:
    def __init__(
        self, token: str = TOKEN, messages_per_second: float = 1.0, *, show: bool = False
    ) -> None:
        self.token = token
        self.show = show  # print each message sent: the admin chat of `make run`
        self.interval = 1.0 / messages_per_second
        self.calls: deque[Call] = deque(maxlen=KEPT)  # the latest
        self.messages: deque[SentMessage] = deque(maxlen=KEPT)  # the latest
        self._sent = 0  # messages sent: the next one's id
        self._last_sent: dict[str, float] = {}  # chat -> time.monotonic() of its last message
        self._runner: web.AppRunner | None = None
        self.base_url = ""

    async def start(self, port: int = 0, host: str = "127.0.0.1") -> str:
        app = web.Application()
        app.router.add_route("*", "/{bot:bot[^/]*}/{method}", self._handle)
        self._runner, self.base_url = await listen(app, port, host)
        return self.base_url

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.Response:
        params = await _parameters(request)
        chat = str(params["chat_id"]) if params.get("chat_id") not in (None, "") else None
        status, body, headers = self._answer(request, params, chat)
        self.calls.append(Call(status, chat))
        return web.json_response(body, status=status, headers=headers)

    def _answer(
        self, request: web.Request, params: dict[str, Any], chat: str | None
    ) -> tuple[int, dict[str, Any], dict[str, str]]:
        token = request.match_info["bot"].removeprefix("bot")
        if not _TOKEN_SHAPE.match(token) or request.match_info["method"] != "sendMessage":
            return _error(404, "Not Found")
        if token != self.token:
            return _error(401, "Unauthorized")
        if chat is None:
            return _error(400, "Bad Request: chat_id is empty")
        try:
            raw, mode, text = _text(params)
        except EntityError as exc:
            return _error(400, f"Bad Request: {exc}")
        wait = self._last_sent.get(chat, -math.inf) + self.interval - time.monotonic()
        if wait > 0:
            retry_after = max(1, math.ceil(wait))
            status, body, _ = _error(429, f"Too Many Requests: retry after {retry_after}")
            body["parameters"] = {"retry_after": retry_after}
            return status, body, {"Retry-After": str(retry_after)}
        self._last_sent[chat] = time.monotonic()
        self._sent += 1
        message = SentMessage(self._sent, chat, text, raw, mode)
        self.messages.append(message)
        if self.show:
            print(f"chat {chat} <- {text.replace(chr(10), ' / ')}", flush=True)  # one line
        result = {"message_id": message.message_id, "date": int(time.time()),
                  "chat": {"id": _chat_id(chat), "type": "private"}, "text": text}  # fmt: skip
        return 200, {"ok": True, "result": result}, {}


def _text(params: dict[str, Any]) -> tuple[str, str | None, str]:
    """(raw text, parse mode, parsed text); ``EntityError`` with Telegram's description."""
    raw = str(params.get("text") or "")
    mode = params.get("parse_mode") or None
    if mode is not None and mode not in _PARSERS:
        raise EntityError(f"unsupported parse_mode {mode}")
    if not raw:
        raise EntityError("message text is empty")
    try:
        text = _PARSERS[mode](raw) if mode else raw
    except EntityError as exc:
        raise EntityError(f"can't parse entities: {exc}") from None
    if not text.strip():
        raise EntityError("message text is empty")
    if len(text) > MAX_TEXT:
        raise EntityError("message is too long")
    return raw, mode, text


async def _parameters(request: web.Request) -> dict[str, Any]:
    params: dict[str, Any] = dict(request.query)
    if request.content_type == "application/json":
        body = await request.json()
        if isinstance(body, dict):
            params.update(body)
    elif request.can_read_body:
        params.update(await request.post())
    return params


def _chat_id(chat: str) -> int | str:
    return int(chat) if chat.lstrip("-").isdigit() else chat


def _error(status: int, description: str) -> tuple[int, dict[str, Any], dict[str, str]]:
    return status, {"ok": False, "error_code": status, "description": description}, {}


if __name__ == "__main__":
    main("A local Telegram Bot API stand-in (sendMessage).", lambda: FakeTelegram(show=True))
