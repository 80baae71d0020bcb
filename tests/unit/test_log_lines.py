"""The fields every log line carries, as the log shippers parse them."""

from __future__ import annotations

import copy
import io
import logging
import time
from datetime import UTC, datetime

import orjson
import pytest
import structlog

from hookline.logs import add_timestamp, configure_logging, get_logger
from hookline.settings import LogSettings


def test_the_timestamp_is_iso_utc_with_six_digit_microseconds() -> None:
    before = datetime.now(UTC)
    stamp = add_timestamp(None, "info", {})["timestamp"]
    after = datetime.now(UTC)
    assert stamp.endswith("Z")
    assert len(stamp) == len("2026-12-02T07:02:07.859230Z")
    parsed = datetime.fromisoformat(stamp.replace("Z", "+00:00"))
    assert before.replace(microsecond=0) <= parsed <= after


def test_the_timestamp_keeps_a_zero_fraction(monkeypatch: pytest.MonkeyPatch) -> None:
    """A time on a whole second still has its six digits (structlog's stamper drops them)."""
    monkeypatch.setattr(time, "time", lambda: 1_790_000_000.0)
    assert add_timestamp(None, "info", {})["timestamp"] == "2026-09-21T14:13:20.000000Z"
    monkeypatch.setattr(time, "time", lambda: 1_790_000_001.5)
    assert add_timestamp(None, "info", {})["timestamp"] == "2026-09-21T14:13:21.500000Z"


def test_a_line_is_one_json_object_with_the_common_fields() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="INFO", format="json"), stream=stream)
    get_logger("hookline.test").info("hello", url="https://user:pw@example.com/x")
    line = orjson.loads(stream.getvalue().splitlines()[-1])
    assert line["event"] == "hello"
    assert line["level"] == "info"
    assert line["logger"] == "hookline.test"
    assert line["timestamp"].endswith("Z")
    assert "pw" not in line["url"]


def fail_with(message: str) -> None:
    raise ValueError(message)


def test_secrets_are_redacted_in_our_lines_and_libraries_lines() -> None:
    stream = io.StringIO()
    configure_logging(LogSettings(level="INFO", format="json"), stream=stream)
    get_logger("hookline.test").warning(
        "call", api_key="k-123", detail="sent Authorization: Bearer abc.def"
    )
    logging.getLogger("aiokafka").warning("retrying %s", "https://u:pw@broker:9093/")
    try:
        fail_with("token=t0ps3cret")
    except ValueError:
        get_logger("hookline.test").exception("failed")
    ours, foreign, failed = (orjson.loads(line) for line in stream.getvalue().splitlines())
    assert ours["api_key"] == "[redacted]"
    assert "abc.def" not in ours["detail"]
    assert ours["level"] == "warning"
    assert foreign["logger"] == "aiokafka"
    assert foreign["level"] == "warning"
    assert "pw@" not in foreign["event"]
    assert failed["level"] == "error"
    assert "t0ps3cret" not in failed["exception"]


def test_a_logger_used_before_a_reconfiguration_follows_the_new_one() -> None:
    """get_logger's loggers are bound once per configuration, not once for good."""
    log = get_logger("hookline.test.reconfigured")
    first, second = io.StringIO(), io.StringIO()
    configure_logging(LogSettings(level="INFO", format="json"), stream=first)
    log.info("one")
    log.debug("dropped at INFO")
    configure_logging(LogSettings(level="DEBUG", format="json"), stream=second)
    log.debug("two")
    assert [orjson.loads(line)["event"] for line in first.getvalue().splitlines()] == ["one"]
    assert [orjson.loads(line)["event"] for line in second.getvalue().splitlines()] == ["two"]


def test_capture_logs_sees_a_logger_bound_before_it() -> None:
    configure_logging(LogSettings(level="INFO", format="json"), stream=io.StringIO())
    log = get_logger("hookline.test.captured")
    log.info("bound now")
    with structlog.testing.capture_logs() as captured:
        log.info("captured", field=1)
    assert [(c["event"], c["field"]) for c in captured] == [("captured", 1)]


def test_secrets_inside_nested_fields_are_redacted() -> None:
    """An alert's ``details`` mapping, a careless ``headers=dict(...)``: every depth."""
    stream = io.StringIO()
    configure_logging(LogSettings(level="INFO", format="json"), stream=stream)
    get_logger("hookline.test").error(
        "alert",
        details={"error": "401: Bearer abc.def", "status": 401},
        headers={"Authorization": "Basic dXNlcjpwYXNz", "X-Access-Key": "k1", "Accept": "*/*"},
        calls=[{"url": "https://u:pw@example.com/x"}, "token=t0ps3cret"],
    )
    line = orjson.loads(stream.getvalue().splitlines()[-1])
    text = stream.getvalue()
    for secret in ("abc.def", "dXNlcjpwYXNz", "k1", "pw@", "t0ps3cret"):
        assert secret not in text, secret
    assert line["details"]["status"] == 401
    assert line["headers"] == {
        "Authorization": "[redacted]",
        "X-Access-Key": "[redacted]",
        "Accept": "*/*",
    }


def test_a_copied_logger_still_logs() -> None:
    """copy and pickle build the object without __init__: no endless __getattr__."""
    stream = io.StringIO()
    configure_logging(LogSettings(level="INFO", format="json"), stream=stream)
    copy.copy(get_logger("hookline.test.copied")).info("copied")
    assert orjson.loads(stream.getvalue().splitlines()[-1])["event"] == "copied"
