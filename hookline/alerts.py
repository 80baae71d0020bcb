r"""The alerts every service shares: an :class:`Alert`, a sink that sends it, the default
sink that logs it and the Telegram sink.

A service raises alerts through any :class:`AlertSink` its composition root gives it
(connectors: :mod:`connectors.alerts` adds a rate limit per kind; pollers: the sync log's
streak of failed runs). A sink must not raise for a failed send: alerting must never stop
the work it reports on. The connectors file and the pollers file take the same
``[alerts]`` table (:func:`load_alerts`); with ``type = "telegram"``
:class:`TelegramAlertSink` sends ``sendMessage`` to an admin chat (Telegram Bot API), from
a background task so that a slow or throttled Telegram never holds up the work:

- **Text**: kind, component, summary and details, every part escaped for the parse mode
  (HTML: ``html.escape``; MarkdownV2: a backslash before each of ``_*[]()~`>#+-=|{}.!\``),
  cut to 3,800 visible characters (Telegram allows 4,096). Every configured secret value
  and anything shaped like a bot token is replaced by ``[redacted]`` before escaping.
- **429**: waits ``parameters.retry_after`` (or ``Retry-After``) and sends again, as often
  as Telegram asks: an alert is deferred, never dropped for a flood wait. 5xx and network
  errors: up to ``max_attempts`` with growing pauses; other statuses (a bad token, a
  missing chat): logged with Telegram's description and dropped. The URL, which holds the
  token, is never logged.
- Alerts wait in a queue of ``max_queued``; beyond it (only when Telegram is unreachable
  for long) a new alert is logged and dropped.
"""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Awaitable, Callable, Iterable, Mapping
from contextlib import suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, Protocol

import aiohttp
from pydantic import BaseModel, ConfigDict, Field, SecretStr, ValidationError

from hookline.config_files import ConfigFileError, describe, load_document, resolve_secret
from hookline.logs import get_logger

log = get_logger("hookline.alerts")


@dataclass(frozen=True, slots=True)
class Alert:
    connector: str  # the component alerting: a connector, a poller, a reconciliation
    kind: str  # what happened, e.g. "batches_failing", "runs_failing"
    summary: str
    details: Mapping[str, str | int | float | None] = field(default_factory=dict)
    suppressed: int = 0  # alerts of this kind held back since the last one sent


class AlertSink(Protocol):
    async def send(self, alert: Alert) -> None: ...


class LoggingAlertSink:
    """Alerts as ``error`` log lines (event ``alert``), the details under ``details`` so
    that none can collide with the alert's own fields."""

    async def send(self, alert: Alert) -> None:
        log.error(
            "alert",
            connector=alert.connector,
            kind=alert.kind,
            summary=alert.summary,
            suppressed=alert.suppressed,
            details=dict(alert.details),
        )


# --- Telegram ------------------------------------------------------------------------------

MAX_VISIBLE_CHARS = 3800  # Telegram: 1-4096 characters after entity parsing
_MARKDOWN_V2_SPECIAL = re.compile(r"([_*\[\]()~`>#+\-=|{}.!\\])")
_BOT_TOKEN_SHAPE = re.compile(r"\b[0-9]{5,20}:[A-Za-z0-9_-]{30,60}")
_REDACTED = "[redacted]"


class TelegramAlertConfig(BaseModel):
    """The ``[alerts]`` table of the connectors or pollers file, for Telegram."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    type: Literal["telegram"] = "telegram"
    bot_token: SecretStr = Field(description="The bot's token, written as 'secret:<name>'.")
    chat_id: str = Field(
        min_length=1, description="The admin chat: its numeric ID (groups: negative) or @name."
    )
    base_url: str = Field(
        "https://api.telegram.org", pattern=r"^https?://", description="Bot API root."
    )
    parse_mode: Literal["HTML", "MarkdownV2"] = Field("HTML", description="How text is marked.")
    timeout_seconds: float = Field(10.0, gt=0, description="Deadline of one sendMessage call.")
    max_attempts: int = Field(5, ge=1, description="Tries on 5xx/network errors (not 429).")
    max_queued: int = Field(100, ge=1, description="Alerts waiting to be sent, at most.")


def load_alerts(
    path: Path, secrets: Mapping[str, SecretStr], error: type[Exception] = ConfigFileError
) -> TelegramAlertConfig | None:
    """The ``[alerts]`` table of the config file at ``path`` (connectors or pollers),
    secrets resolved; None when it has none; ``error`` when it is malformed."""
    table = load_document(path).get("alerts")
    if table is None:
        return None
    if not isinstance(table, dict):
        raise error("[alerts] must be a table")
    resolved = {
        k: resolve_secret(v, secrets, "[alerts]", error) if isinstance(v, str) else v
        for k, v in table.items()
    }
    try:
        return TelegramAlertConfig.model_validate(resolved)
    except ValidationError as exc:
        raise error(f"[alerts]: {describe(exc)}") from None


def alert_sink(
    config: TelegramAlertConfig | None, secrets: Iterable[str] = ()
) -> TelegramAlertSink | LoggingAlertSink:
    """The sink an ``[alerts]`` table asks for: Telegram, or the log without one."""
    return TelegramAlertSink(config, secrets) if config is not None else LoggingAlertSink()


def escape_html(text: str) -> str:
    return html.escape(text, quote=False)


def escape_markdown_v2(text: str) -> str:
    return _MARKDOWN_V2_SPECIAL.sub(r"\\\1", text)


def scrub(text: str, secrets: Iterable[str]) -> str:
    for secret in secrets:
        text = text.replace(secret, _REDACTED)
    return _BOT_TOKEN_SHAPE.sub(_REDACTED, text)


def alert_text(alert: Alert, parse_mode: str, secrets: Iterable[str] = ()) -> str:
    """The message for ``alert``: scrubbed, cut to size, escaped for ``parse_mode``."""
    lines = [f"{alert.kind} · {alert.connector}", alert.summary]
    lines += [f"{k}: {v}" for k, v in alert.details.items() if v is not None]
    if alert.suppressed:
        lines.append(f"(+{alert.suppressed} more of this kind held back since the last one)")
    plain = scrub("\n".join(lines), secrets)[:MAX_VISIBLE_CHARS]
    if parse_mode == "HTML":
        return f"<b>Hookline alert</b>\n{escape_html(plain)}"
    return f"*Hookline alert*\n{escape_markdown_v2(plain)}"


class TelegramAlertSink:
    """Alerts as Telegram messages; see the module docstring for what is guaranteed."""

    def __init__(
        self,
        config: TelegramAlertConfig,
        secrets: Iterable[str] = (),
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._config = config
        token = config.bot_token.get_secret_value()
        self._secrets = tuple(sorted({token, *(s for s in secrets if len(s) >= 4)}, key=len))[::-1]
        self._url = f"{config.base_url.rstrip('/')}/bot{token}/sendMessage"
        self._sleep = sleep
        self._queue: asyncio.Queue[Alert] = asyncio.Queue(config.max_queued)
        self._worker: asyncio.Task[None] | None = None
        self._session: aiohttp.ClientSession | None = None

    async def send(self, alert: Alert) -> None:
        if self._worker is None:
            timeout = aiohttp.ClientTimeout(total=self._config.timeout_seconds)
            self._session = aiohttp.ClientSession(timeout=timeout)
            self._worker = asyncio.create_task(self._work())
        if self._queue.full():
            log.error("alert dropped: telegram queue full", connector=alert.connector,
                      kind=alert.kind)  # fmt: skip
            return
        self._queue.put_nowait(alert)

    async def flush(self) -> None:
        """Return once every alert queued so far was sent (or given up)."""
        await self._queue.join()

    async def close(self, grace_seconds: float = 5.0) -> None:
        """Send what is queued within ``grace_seconds``, then stop."""
        if self._worker is None:
            return
        with suppress(TimeoutError):
            await asyncio.wait_for(self.flush(), grace_seconds)
        self._worker.cancel()
        with suppress(asyncio.CancelledError):
            await self._worker
        if self._session is not None:
            await self._session.close()

    async def _work(self) -> None:
        while True:
            alert = await self._queue.get()
            try:
                await self._deliver(alert)
            except Exception as exc:  # the sink must outlive any one alert
                # no traceback: a client exception may quote the URL, which holds the token
                log.error("telegram alert failed", kind=alert.kind, error=type(exc).__name__)  # noqa: TRY400
            finally:
                self._queue.task_done()

    async def _deliver(self, alert: Alert) -> None:
        config = self._config
        payload = {"chat_id": config.chat_id, "parse_mode": config.parse_mode,
                   "text": alert_text(alert, config.parse_mode, self._secrets)}  # fmt: skip
        failures = 0
        while True:
            status, body, retry_after = await self._post(payload)
            if status == 200:
                return
            if status == 429:  # flood control: wait as told, then the same message again
                await self._sleep(retry_after or 1.0)
                continue
            if status is not None and status < 500:
                description = scrub(str(body.get("description", "")), self._secrets)[:200]
                log.error("telegram refused an alert", status=status, description=description)
                return
            failures += 1
            if failures >= config.max_attempts:
                log.error("telegram unreachable: alert dropped", kind=alert.kind, status=status)
                return
            await self._sleep(min(2.0**failures, 60.0))

    async def _post(self, payload: dict[str, str]) -> tuple[int | None, dict[str, Any], float]:
        """(status or None for a network error, JSON body, retry_after seconds or 0)."""
        if self._session is None:
            raise RuntimeError("the sink has not started")
        try:
            async with self._session.post(self._url, json=payload) as response:
                try:
                    body = await response.json(content_type=None)
                except ValueError:
                    body = {}
                body = body if isinstance(body, dict) else {}
                return response.status, body, _retry_after(body, response.headers)
        except (aiohttp.ClientError, TimeoutError):
            return None, {}, 0.0


def _retry_after(body: Mapping[str, Any], headers: Mapping[str, str]) -> float:
    parameters = body.get("parameters")
    value = parameters.get("retry_after") if isinstance(parameters, dict) else None
    value = value if value is not None else headers.get("Retry-After")
    try:
        return max(0.0, float(value)) if value is not None else 0.0
    except ValueError:
        return 0.0
