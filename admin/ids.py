"""Ids in paths: what a number in a URL may be before it reaches a query."""

from __future__ import annotations

#: PostgreSQL's bigint maximum: the largest id, and the bound of every id filter.
BIGINT_MAX = 2**63 - 1
#: Digits a bigint always holds (its maximum has 19).
BIGINT_DIGITS = 18
#: Digits an integer (a Kafka partition) always holds (its maximum has 10).
INTEGER_DIGITS = 9


def id_number(text: str, max_digits: int = BIGINT_DIGITS) -> int | None:
    """``text`` as a number when it is 1 to ``max_digits`` ASCII digits, else None.

    ``str.isdigit()`` alone is not enough: it accepts ``"³"`` (which ``int()`` refuses,
    a 500) and other scripts' digits; too many digits overflow the column (a 500 too).
    """
    if 0 < len(text) <= max_digits and text.isascii() and text.isdigit():
        return int(text)
    return None
