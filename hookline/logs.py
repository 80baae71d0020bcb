"""Structured logging (structlog), JSON by default, with secrets redacted.

``configure_logging`` is called once from a service's ``main()``. Any event key that looks
like it carries a credential is replaced by ``"[redacted]"`` before rendering, so a careless
``log.info(..., authorization=...)`` cannot leak it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import MutableMapping
from typing import Any

import orjson
import structlog

from hookline.settings import LogSettings

_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|signature|authorization|api[_-]?key|cookie|dsn|conninfo)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    for key in list(event_dict):
        if _SECRET_KEY.search(key):
            event_dict[key] = REDACTED
    return event_dict


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def configure_logging(settings: LogSettings, stream: Any = None) -> None:
    level = logging.getLevelName(settings.level)
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            redact_secrets,
            structlog.processors.format_exc_info,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    # Libraries that use the standard library (aiohttp, faust) go to stderr, plain.
    logging.basicConfig(level=max(level, logging.INFO), stream=stream or sys.stderr, force=True)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return structlog.get_logger(name)  # type: ignore[no-any-return]
