"""The one mapping of HTTP statuses and client exceptions onto the connector error tree."""

from __future__ import annotations

import inspect

import aiohttp
import pytest

from connectors.errors import (
    RETRIABLE_STATUSES,
    Category,
    PermanentError,
    RetriableError,
    category_of_exception,
    classify_status,
    error_for_exception,
    error_for_status,
)


def test_every_http_status_has_exactly_one_category() -> None:
    categories = {status: classify_status(status) for status in range(100, 600)}
    assert set(categories.values()) == set(Category)
    assert {s for s, c in categories.items() if c is Category.SUCCESS} == set(range(200, 300))
    assert {s for s, c in categories.items() if c is Category.RETRIABLE} == {
        408,
        429,
        500,
        502,
        503,
        504,
    }
    others = set(range(100, 600)) - set(range(200, 300)) - RETRIABLE_STATUSES
    assert all(categories[s] is Category.PERMANENT for s in others)


@pytest.mark.parametrize("status", [429, 500, 502, 503, 504])
def test_the_documented_transient_statuses_are_retriable(status: int) -> None:
    assert isinstance(error_for_status(status, "x"), RetriableError)


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 410, 422, 301, 501])
def test_other_statuses_are_permanent(status: int) -> None:
    assert isinstance(error_for_status(status, "x"), PermanentError)


def test_a_destination_may_add_its_vendors_transient_statuses() -> None:
    assert classify_status(423) is Category.PERMANENT
    assert classify_status(423, frozenset({423, 477})) is Category.RETRIABLE


def test_success_is_no_error_and_errors_keep_status_body_and_retry_after() -> None:
    assert error_for_status(204, "") is None
    error = error_for_status(429, "b" * 5000, retry_after=3.0)
    assert isinstance(error, RetriableError)
    assert (error.status, error.retry_after, len(error.body or "")) == (429, 3.0, 1024)


@pytest.mark.parametrize("status", [99, 600, -1])
def test_a_number_that_is_no_status_is_refused(status: int) -> None:
    with pytest.raises(ValueError, match="not an HTTP status"):
        classify_status(status)


def _aiohttp_client_errors() -> list[type[BaseException]]:
    return [
        kind
        for _, kind in inspect.getmembers(aiohttp, inspect.isclass)
        if issubclass(kind, aiohttp.ClientError)
    ]


def test_every_aiohttp_client_error_maps_to_a_category() -> None:
    kinds = _aiohttp_client_errors()
    assert len(kinds) > 10
    for kind in kinds:
        expected = (
            Category.RETRIABLE
            if issubclass(kind, aiohttp.ClientConnectionError | aiohttp.ClientPayloadError)
            or issubclass(kind, TimeoutError)
            else Category.PERMANENT
        )
        assert category_of_exception(kind.__new__(kind)) is expected, kind


@pytest.mark.parametrize(
    "exc",
    [TimeoutError(), ConnectionResetError(), aiohttp.ServerDisconnectedError()],
)
def test_timeouts_and_connection_errors_are_retriable(exc: BaseException) -> None:
    error = error_for_exception(exc)
    assert isinstance(error, RetriableError)
    assert error.status is None


def test_an_unknown_exception_is_permanent() -> None:
    assert isinstance(error_for_exception(ValueError("bug")), PermanentError)
