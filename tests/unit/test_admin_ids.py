"""A number in an admin URL: plain ASCII digits that fit the column, or not an id."""

from __future__ import annotations

import pytest

from admin.ids import INTEGER_DIGITS, id_number


@pytest.mark.parametrize(
    ("text", "expected"),
    [("0", 0), ("42", 42), ("9" * 18, int("9" * 18)), ("007", 7)],
)
def test_plain_digits_are_a_number(text: str, expected: int) -> None:
    assert id_number(text) == expected


@pytest.mark.parametrize(
    "text", ["", "\u00b3", "\u0663", "1\u00b2", "-1", "+1", " 1", "1.0", "9" * 19]
)
def test_anything_else_is_none(text: str) -> None:
    assert id_number(text) is None


def test_a_partition_number_has_at_most_nine_digits() -> None:
    assert id_number("9" * 9, INTEGER_DIGITS) == 999_999_999
    assert id_number("2147483648", INTEGER_DIGITS) is None  # over an integer's maximum
