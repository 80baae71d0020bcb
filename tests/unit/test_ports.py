"""The tests' free ports stay out of the range the kernel gives outgoing connections."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.ports import free_port, free_ports_in_a_row


def ephemeral_low() -> int:
    return int(Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()[0])


def test_a_free_port_is_below_the_ephemeral_range_and_bindable() -> None:
    port = free_port()
    assert port < ephemeral_low()
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", port))


def test_ports_in_a_row_are_consecutive_free_and_never_handed_out_twice() -> None:
    seen: set[int] = set()
    for _ in range(50):
        base = free_ports_in_a_row(3)
        ports = {base, base + 1, base + 2}
        assert not ports & seen
        assert base + 2 < ephemeral_low()
        seen |= ports
        sockets = [socket.socket() for _ in ports]
        try:
            for sock, port in zip(sockets, sorted(ports), strict=True):
                sock.bind(("127.0.0.1", port))
        finally:
            for sock in sockets:
                sock.close()
