"""Dead-letter context: secrets never leave in an error message; headers round-trip."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from hookline.dead_letter import (
    SourceRecord,
    build_context,
    dead_letter_headers,
    masked,
    might_hold_secret,
    scrub,
)
from schemas.dead_letter import MAX_MESSAGE_CHARS, DeadLetterContext, original_headers


@pytest.mark.parametrize(
    ("text", "secret"),
    [
        (
            "401 calling https://api.example.com with Authorization: Bearer abc.DEF-123",
            "abc.DEF-123",
        ),
        ("connect to postgresql://hookline:s3cr3t@db:5432/hookline failed", "s3cr3t"),
        (
            "POST https://api.telegram.org/bot123456:AAH-xyz_TOKEN/sendMessage -> 429",
            "AAH-xyz_TOKEN",
        ),
        ("bad config: api_key=sk_live_42 and token: t0k3n", "sk_live_42"),
        ("signature=deadbeef mismatch", "deadbeef"),
        ('{"access_token":"at-1","refresh_token": "rt-2","expires_in":1800}', "rt-2"),
        ('{"access_token":"at-1","refresh_token": "rt-2","expires_in":1800}', "at-1"),
    ],
)
def test_scrub_masks_credentials_in_error_text(text: str, secret: str) -> None:
    scrubbed = scrub(text)
    assert secret not in scrubbed
    assert "[redacted]" in scrubbed


#: Texts made of credentials in the forms the patterns know, parts of them, and text
#: around them, in any case.
_PIECES = st.sampled_from(
    ["Bearer x1", "bEaReR\tx", "TOKEN=t", "token", "Secret: s", "password=p", "api_key=k",
     "API-KEY: k", "apikey", "Signature=s", "HTTPS://U:P@H", "://u:", "@", "/bot1:a", "/BOT",
     '"token": "t"', "x", " ", "=", ":", '"', "\u0130", "\u017f"]
)  # fmt: skip
_TEXTS = st.lists(_PIECES | st.text(max_size=3), max_size=8).map("".join)


@settings(max_examples=1000)
@given(_TEXTS)
def test_a_text_said_to_hold_no_credential_is_one_no_pattern_changes(text: str) -> None:
    """``might_hold_secret`` lets log lines and bodies skip the patterns: it may say yes
    for nothing, never no for a credential."""
    if not might_hold_secret(text):
        assert masked(text) == text


def record() -> SourceRecord:
    return SourceRecord(
        topic="p.events.order",
        partition=2,
        offset=41,
        key=b"order:1",
        value=b"{}",
        headers=[("content-type", b"application/json")],
        timestamp_ms=1_700_000_000_000,
    )


def test_context_headers_round_trip_and_keep_the_original_headers() -> None:
    error = RuntimeError("upstream said token=abc " + "x" * 2000)
    context = build_context(
        record(),
        stage="deliver",
        component="crm",
        error=error,
        attempts=5,
        http_status=503,
        http_body="Service Unavailable",
    )
    headers = dead_letter_headers(record(), context)
    assert original_headers(headers) == [("content-type", b"application/json")]
    parsed = DeadLetterContext.from_headers(headers)
    assert parsed == context
    assert (parsed.topic, parsed.partition, parsed.offset) == ("p.events.order", 2, 41)
    assert parsed.exception_class == "RuntimeError"
    assert "abc" not in parsed.exception_message
    assert len(parsed.exception_message) == MAX_MESSAGE_CHARS
    assert parsed.failed_at <= datetime.now(UTC)
