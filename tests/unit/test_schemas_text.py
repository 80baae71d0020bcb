"""U+0000 becomes U+FFFD in JSON bytes and in decoded values; nothing else changes."""

from __future__ import annotations

import orjson
from hypothesis import given
from hypothesis import strategies as st

from schemas.text import json_without_nul, without_nul

json_values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**53), 2**53)
    | st.text(alphabet=st.sampled_from("ab\\u0\x00")),
    lambda inner: (
        st.lists(inner, max_size=4)
        | st.dictionaries(st.text(alphabet=st.sampled_from("k\\\x00")), inner, max_size=4)
    ),
    max_leaves=12,
)


@given(json_values)
def test_the_json_form_equals_the_value_form_and_holds_no_nul(value: object) -> None:
    encoded = json_without_nul(orjson.dumps(value))
    assert orjson.loads(encoded) == without_nul(value)
    assert "\x00" not in encoded.decode()
    assert b"\\u0000" not in encoded.replace(b"\\\\", b"")  # only escaped backslashes left


def test_a_literal_backslash_u0000_text_is_left_alone() -> None:
    text = "C:\\u0000 and \\\x00"  # backslash + "u0000"; then a backslash and a NUL
    assert orjson.loads(json_without_nul(orjson.dumps(text))) == "C:\\u0000 and \\\ufffd"


def test_without_nul_copies_nothing_when_there_is_none() -> None:
    value = {"a": ["x", {"b": "y"}]}
    assert without_nul(value) is value
    encoded = orjson.dumps(value)
    assert json_without_nul(encoded) is encoded
