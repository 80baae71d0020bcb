"""Every record id and idempotency key is a version 5 UUID: the fast formatting must equal
the standard library's, or ids would change across releases."""

from __future__ import annotations

import uuid

from hypothesis import given
from hypothesis import strategies as st

from schemas.ids import uuid5_text

NAMESPACES = st.sampled_from([uuid.NAMESPACE_URL, uuid.UUID(int=0), uuid.UUID(int=2**128 - 1)])


@given(NAMESPACES, st.text())
def test_uuid5_text_equals_the_standard_librarys(namespace: uuid.UUID, name: str) -> None:
    assert uuid5_text(namespace, name) == str(uuid.uuid5(namespace, name))
