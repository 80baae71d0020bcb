"""The default alert sink: every alert is one ``alert`` log line, whatever its details
are called (a poller's alert has a detail named ``kind``, as the alert itself)."""

from __future__ import annotations

from structlog.testing import capture_logs

from hookline.alerts import Alert, LoggingAlertSink


async def test_a_detail_named_like_an_alert_field_is_logged_not_raised() -> None:
    details = {"kind": "poll", "source": "shop", "error": "PollError: HTTP 500"}
    with capture_logs() as logs:
        await LoggingAlertSink().send(Alert("orders", "runs_failing", "3 failed", details))
    [line] = logs
    assert (line["event"], line["connector"], line["kind"]) == ("alert", "orders", "runs_failing")
    assert line["details"] == details
