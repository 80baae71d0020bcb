"""Structured logging (structlog over the standard library), JSON by default, secrets redacted.

``configure_logging`` is called once from a service's ``main()``. Guarantees:

- Every line, ours and every library's (faust, mode, aiokafka, aiohttp, asyncio,
  librdkafka through the ``hookline.kafka`` logger), is one JSON object per line with the
  same processors: libraries' lines through the root logger's one handler, whose formatter
  is structlog's ``ProcessorFormatter``; ours straight from structlog (cheaper). Fields:
  ``timestamp`` (ISO 8601, UTC), ``level``, ``logger`` and ``event``, plus
  ``trace_id`` and ``span_id`` while a span is bound (:mod:`hookline.tracing`) and the
  fields of the call. ``format="console"`` renders the same fields readably.
- Any field whose name looks like it carries a credential is replaced by ``"[redacted]"``,
  and credentials inside text (bearer tokens, ``password=...``, URL userinfo, bot tokens;
  :func:`hookline.dead_letter.scrub`) are masked in every string value, tracebacks
  included, so a careless ``log.info(..., authorization=...)`` or a library's message
  quoting a URL cannot leak one. Both apply inside dict and list fields too, at any
  depth (an alert's ``details``, a careless ``headers=dict(request.headers)``).
"""

from __future__ import annotations

import logging
import re
import sys
import time
from collections.abc import MutableMapping
from functools import lru_cache
from typing import Any, cast

import orjson
import structlog

from hookline.dead_letter import might_hold_secret, scrub
from hookline.settings import LogSettings
from hookline.tracing import current as current_trace

_SECRET_KEY = re.compile(
    r"(secret|password|passwd|token|signature|authorization|api[_-]?key|access[_-]?key|cookie|dsn|conninfo)",
    re.IGNORECASE,
)
REDACTED = "[redacted]"
#: Libraries' loggers are kept at INFO or above even when ours log DEBUG: faust and
#: aiokafka log every record at DEBUG.
_OURS = "hookline"


_CONTAINERS = (dict, list, tuple)


def redact_secrets(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """Replace the value of every field whose name looks like a credential's, and mask
    credentials inside string values (a library's message, a traceback), in nested
    mappings and lists too (a careless ``headers=dict(request.headers)``)."""
    texts: list[str] = []
    for key, value in event_dict.items():
        if secret_name(key):
            event_dict[key] = REDACTED
        elif isinstance(value, str):
            texts.append(value)
        elif isinstance(value, _CONTAINERS):
            event_dict[key] = _names_masked(value, texts)
    # Most lines hold no credential: one test over all their texts, nested ones included
    # (a secret word never spans the separator), instead of one per string: an audit
    # line's request headers made that seven tests, half of the line's cost.
    if texts and might_hold_secret("\n".join(texts)):
        for key, value in event_dict.items():
            if isinstance(value, str | dict | list):
                event_dict[key] = _scrubbed(value)
    return event_dict


def _names_masked(value: Any, texts: list[str]) -> Any:
    """A field's dict or list, at any depth, with the values of credential-named keys
    replaced (tuples become lists); its strings are added to ``texts``."""
    if isinstance(value, str):
        texts.append(value)
        return value
    if isinstance(value, dict):
        masked = {}
        for k, v in value.items():  # inline for strings: headers are a dict of them
            if secret_name(str(k)):
                masked[k] = REDACTED
            elif isinstance(v, str):
                texts.append(v)
                masked[k] = v
            else:
                masked[k] = _names_masked(v, texts)
        return masked
    if isinstance(value, list | tuple):
        return [_names_masked(v, texts) for v in value]
    return value


def _scrubbed(value: Any) -> Any:
    """A string, or a dict or list at any depth, with credentials masked in its texts."""
    if isinstance(value, str):
        return scrub(value)
    if isinstance(value, dict):
        return {k: _scrubbed(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_scrubbed(v) for v in value]
    return value


@lru_cache(maxsize=4096)  # field names are few and repeat on every line
def secret_name(name: str) -> bool:
    """Whether a field or header called ``name`` holds a credential (its value is never
    logged)."""
    return _SECRET_KEY.search(name) is not None


class _SecondStamp:
    """``YYYY-MM-DDTHH:MM:SS`` of the current second, formatted once per second. One tuple
    swapped whole, so a thread never sees one second's number with another's text."""

    __slots__ = ("_last",)

    def __init__(self) -> None:
        self._last = (-1, "")

    def of(self, second: int) -> str:
        last = self._last
        if last[0] != second:
            last = self._last = (second, time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(second)))
        return last[1]


_stamp = _SecondStamp()


def add_timestamp(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """``timestamp``: ISO 8601 in UTC with microseconds, always six digits (structlog's
    TimeStamper drops a zero fraction, and formats a datetime per line: a few times the
    cost on the ingress's and connectors' per-request lines)."""
    now = time.time()
    second = int(now)
    micros = int((now - second) * 1_000_000)
    event_dict["timestamp"] = f"{_stamp.of(second)}.{micros:06d}Z"
    return event_dict


def add_trace_ids(
    _logger: Any, _method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """``trace_id`` and ``span_id`` of the current span (:mod:`hookline.tracing`), if any:
    the only context a line takes (nothing binds structlog's contextvars, so its
    ``merge_contextvars`` is not in the chains)."""
    trace = current_trace()
    if trace is not None:
        event_dict.setdefault("trace_id", trace.trace_id)
        event_dict.setdefault("span_id", trace.span_id)
    return event_dict


def add_line_fields(
    logger: Any, method: str, event_dict: MutableMapping[str, Any]
) -> MutableMapping[str, Any]:
    """``level``, ``logger``, ``timestamp`` and the current span's ids on one of our lines:
    what structlog's add_log_level, add_logger_name and the stamper add, and
    :func:`add_trace_ids`, in one step (the connectors log every external call)."""
    event_dict["level"] = _LEVELS.get(method, method)
    event_dict["logger"] = logger.name
    add_trace_ids(logger, method, event_dict)
    return add_timestamp(logger, method, event_dict)


_LEVELS = {"warn": "warning", "exception": "error"}  # as structlog's add_log_level


def _orjson_dumps(obj: Any, default: Any = None) -> str:
    return orjson.dumps(obj, default=default).decode()


def _foreign_processors() -> list[Any]:
    """What a library's line (stdlib ``logging``) gets before the final processors."""
    return [
        structlog.stdlib.add_log_level,
        structlog.stdlib.add_logger_name,
        structlog.stdlib.PositionalArgumentsFormatter(),
        add_trace_ids,
        add_timestamp,
    ]


def _final_processors(settings: LogSettings) -> list[Any]:
    """What every line gets last, ours and libraries' alike: the exception rendered, then
    secrets redacted (the rendered traceback included), then the line rendered."""
    renderer: Any = (
        structlog.processors.JSONRenderer(serializer=_orjson_dumps)
        if settings.format == "json"
        else structlog.dev.ConsoleRenderer(colors=False)
    )
    return [structlog.processors.format_exc_info, redact_secrets, renderer]


def json_formatter(settings: LogSettings) -> logging.Formatter:
    """The root handler's formatter: libraries' lines get the fields and rendering of ours."""
    return structlog.stdlib.ProcessorFormatter(
        foreign_pre_chain=_foreign_processors(),
        processors=[
            structlog.stdlib.ProcessorFormatter.remove_processors_meta,
            *_final_processors(settings),
        ],
    )


class _NamedLogger(structlog.WriteLogger):
    """Our lines skip the standard library (a third of the cost per line) but keep the
    ``logger`` field: the name given to :func:`get_logger`. One write per line, so lines
    never interleave with the root handler's."""

    def __init__(self, file: Any, name: str) -> None:
        super().__init__(file)
        self.name = name


def configure_logging(settings: LogSettings, stream: Any = None) -> None:
    level = logging.getLevelName(settings.level)
    stream = stream or sys.stderr
    structlog.configure(
        processors=[
            add_line_fields,
            *_final_processors(settings),
        ],
        wrapper_class=structlog.make_filtering_bound_logger(level),
        logger_factory=lambda *args: _NamedLogger(stream, str(args[0]) if args else ""),
        cache_logger_on_first_use=False,  # _Logger caches, per configuration
    )
    _Generation.current += 1
    handler = logging.StreamHandler(stream)
    handler.setFormatter(json_formatter(settings))
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)
    root.setLevel(max(level, logging.INFO))
    logging.getLogger(_OURS).setLevel(level)
    logging.getLogger("aiohttp.access").setLevel(logging.WARNING)
    logging.captureWarnings(True)  # warnings.warn(...) lines become log lines too


class _Generation:
    """Bumped by each :func:`configure_logging`: a logger bound before it is bound again."""

    current = 0


class _Logger:
    """What :func:`get_logger` returns: structlog's logger, bound once per configuration.

    structlog's lazy proxy binds a new logger on every call unless it caches the first one
    for good; caching for good would keep a logger used before (or configured by an
    earlier) :func:`configure_logging` on that configuration's stream, level and
    processors. Binding costs a third of a line (the connectors log every external call).
    ``structlog.testing.capture_logs`` keeps the processors' list object, so a bound logger
    is captured too."""

    __slots__ = ("_bound", "_generation", "_name")

    def __init__(self, name: str) -> None:
        self._name = name
        self._bound: Any = None
        self._generation = -1

    def __getattr__(self, attribute: str) -> Any:
        if attribute in _Logger.__slots__:  # unset (a copy made without __init__)
            raise AttributeError(attribute)
        if self._generation != _Generation.current:
            self._bound = structlog.get_logger(self._name).bind()
            self._generation = _Generation.current
        return getattr(self._bound, attribute)


def get_logger(name: str) -> structlog.stdlib.BoundLogger:
    return cast(structlog.stdlib.BoundLogger, _Logger(name))
