"""The Shopify stand-in pages orders by update time in time order, whatever the spelling of
the stamps: a stamp on a whole second (no fraction) once sorted after the same second's
others, so a poller resuming from the newest time it had seen skipped it."""

from __future__ import annotations

from sandbox.shopify_store import _connection


def order(number: int, updated_at: str) -> dict[str, object]:
    return {"id": f"gid://shopify/Order/{number}", "updatedAt": updated_at}


def test_orders_sorted_by_update_time_are_in_time_order() -> None:
    records = [
        order(1, "2026-12-02T05:47:55.500000Z"),
        order(2, "2026-12-02T05:47:55Z"),
        order(3, "2026-12-02T05:47:54.900000Z"),
        order(4, "2026-12-02T06:47:55.100000+01:00"),
    ]
    page = _connection(records, first=10, sortKey="UPDATED_AT")
    assert [n["id"].rsplit("/", 1)[1] for n in page["nodes"]] == ["3", "2", "4", "1"]


def test_a_walk_resuming_at_the_newest_time_seen_misses_no_order() -> None:
    records = [order(1, "2026-12-02T05:47:55.500000Z"), order(2, "2026-12-02T05:47:55Z")]
    first = _connection(records, first=1, sortKey="UPDATED_AT")
    seen = first["nodes"][0]["updatedAt"]
    rest = _connection(records, first=10, sortKey="UPDATED_AT", query=f"updated_at:>='{seen}'")
    ids = {n["id"] for n in first["nodes"]} | {n["id"] for n in rest["nodes"]}
    assert ids == {"gid://shopify/Order/1", "gid://shopify/Order/2"}
