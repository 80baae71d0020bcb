"""Free TCP ports for the services the tests and benches start.

A port the kernel hands out for ``bind(0)`` comes from the ephemeral range, the same
range it draws from for every outgoing connection. Between our closing the probe socket
and the service binding the port, a Kafka or HTTP client of the test can be given that
port as its local end, and the service fails with EADDRINUSE (it happened in CI: the
ingress's metrics port). Ports below the ephemeral range are never given to outgoing
connections, so only another listener can take one, and the tests start their listeners
on these ports only.
"""

from __future__ import annotations

import random
import socket
from pathlib import Path

_LOWEST = 20000
_DEFAULT_EPHEMERAL_LOW = 32768  # Linux's default net.ipv4.ip_local_port_range
_handed_out: set[int] = set()


def _ephemeral_low() -> int:
    try:
        text = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text()
        return int(text.split()[0])
    except (OSError, ValueError, IndexError):
        return _DEFAULT_EPHEMERAL_LOW


def _bindable(port: int) -> bool:
    with socket.socket() as sock:
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def free_ports_in_a_row(count: int) -> int:
    """The first of ``count`` consecutive ports below the ephemeral range that are free
    now and were not handed out before in this process."""
    highest = max(_LOWEST + 1000, _ephemeral_low()) - count
    for _ in range(1000):
        base = random.randrange(_LOWEST, highest)
        ports = range(base, base + count)
        if any(port in _handed_out for port in ports):
            continue
        if all(_bindable(port) for port in ports):
            _handed_out.update(ports)
            return base
    raise AssertionError(f"no {count} free ports in a row below the ephemeral range")


def free_port() -> int:
    """A port below the ephemeral range that is free now (see the module's docstring)."""
    return free_ports_in_a_row(1)
