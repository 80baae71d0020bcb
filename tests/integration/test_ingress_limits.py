"""The public port bounds what a slow or idle client can hold: time to send the request
head, time to send the body, and the number of connections open on a worker. Raw sockets,
because an HTTP client library would never send half a request."""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from aiohttp.test_utils import TestServer

from hookline.settings import Settings
from hookline.topics import Topics
from ingress.app import create_app
from tests.integration.test_ingress import github_sources
from tests.integration.test_ingress_process import start_ingress

# Generous: the server must give up well before the test does.
CLIENT_PATIENCE_SECONDS = 20.0


@pytest.fixture
async def strict_server(settings: Settings) -> AsyncIterator[TestServer]:
    ingress = settings.ingress.model_copy(
        update={"header_timeout_seconds": 1.0, "body_timeout_seconds": 1.0}
    )
    server = TestServer(
        create_app(settings.model_copy(update={"ingress": ingress}), github_sources())
    )
    await server.start_server()
    yield server
    await server.close()


def read_until_closed(sock: socket.socket) -> bytes:
    """Everything the server sends until it closes the connection; fails if it never does."""
    sock.settimeout(CLIENT_PATIENCE_SECONDS)
    received = b""
    try:
        while chunk := sock.recv(65536):
            received += chunk
    except ConnectionResetError:
        pass
    except TimeoutError:
        pytest.fail(f"the server held the connection for {CLIENT_PATIENCE_SECONDS} s")
    return received


async def test_body_shorter_than_its_content_length_is_cut_off(
    strict_server: TestServer,
) -> None:
    def slow_client() -> bytes:
        with socket.create_connection(("127.0.0.1", strict_server.port)) as sock:
            sock.sendall(
                b"POST /webhooks/gh HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                b"Content-Length: 100\r\n\r\n" + b"0123456789"
            )
            return read_until_closed(sock)

    answer = await asyncio.to_thread(slow_client)
    assert answer.startswith(b"HTTP/1.1 408"), answer[:100]
    assert b'"error":"body_timeout"' in answer


async def test_unfinished_request_head_is_cut_off(strict_server: TestServer) -> None:
    def slow_client() -> bytes:
        with socket.create_connection(("127.0.0.1", strict_server.port)) as sock:
            sock.sendall(b"POST /webhooks/gh HTTP/1.1\r\nHost: x\r\nX-Slow")
            return read_until_closed(sock)

    assert await asyncio.to_thread(slow_client) == b""


async def test_idle_connection_is_closed(strict_server: TestServer) -> None:
    def idle_client() -> bytes:
        with socket.create_connection(("127.0.0.1", strict_server.port)) as sock:
            return read_until_closed(sock)

    assert await asyncio.to_thread(idle_client) == b""


@pytest.fixture
def idle_sockets() -> Iterator[list[socket.socket]]:
    sockets: list[socket.socket] = []
    yield sockets
    for sock in sockets:
        sock.close()


def test_connections_beyond_the_bound_are_refused_at_once(
    settings: Settings, topics: Topics, tmp_path: Path, idle_sockets: list[socket.socket]
) -> None:
    process, port = start_ingress(
        settings, tmp_path, workers=1, extra_env={"HOOKLINE_INGRESS__MAX_CONNECTIONS": "5"}
    )
    try:
        for _ in range(5):
            idle_sockets.append(socket.create_connection(("127.0.0.1", port)))
        time.sleep(0.5)  # let the worker accept them; nothing is asserted on time
        with socket.create_connection(("127.0.0.1", port)) as extra:
            answer = read_until_closed(extra)
        assert answer.startswith(b"HTTP/1.1 503"), answer[:100]
        # The held connections are still served: the bound refuses, it does not evict.
        held = idle_sockets.pop()
        held.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        assert read_until_closed(held).startswith(b"HTTP/1.1 200")
        held.close()
        for sock in idle_sockets:
            sock.close()
        idle_sockets.clear()
        # Closed connections free their places.
        deadline = time.monotonic() + CLIENT_PATIENCE_SECONDS
        status = b""
        while time.monotonic() < deadline and not status.startswith(b"HTTP/1.1 200"):
            with socket.create_connection(("127.0.0.1", port)) as again:
                again.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                status = read_until_closed(again)
        assert status.startswith(b"HTTP/1.1 200"), status[:100]
    finally:
        process.terminate()
        process.communicate(timeout=30)
