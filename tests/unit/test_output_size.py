"""The processors' size check of a normalised event's record (processors.pipeline)."""

from __future__ import annotations

import pytest

from processors.pipeline import Output, OutputTooLarge, check_size, record_bytes


def output(value_bytes: int) -> Output:
    return Output("p.events.order", b"order:1", b"v" * value_bytes, (("content-type", b"x"),))


def test_a_record_of_exactly_the_limit_passes_and_one_byte_more_is_too_large() -> None:
    fits = output(100)
    limit = record_bytes(fits)
    assert limit == len(b"order:1") + 100 + len("content-type") + 1
    assert check_size([fits], limit) == [fits]
    with pytest.raises(OutputTooLarge) as raised:
        check_size([fits, output(101)], limit)
    message = str(raised.value)
    assert "p.events.order" in message
    assert f"{limit + 1} bytes" in message
    assert f"limit of {limit}" in message
