"""Runs several Hookline services as child processes in the foreground (``hookline run``).

Each child's output is prefixed with its name. SIGINT/SIGTERM (Ctrl-C) is forwarded as
SIGTERM to every child, which shuts down gracefully; a child still alive after the grace
period is killed. If one child exits on its own, the others are stopped too: a demo with
a dead service would mislead.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import threading
import time
from collections.abc import Mapping, Sequence
from types import FrameType
from typing import IO

GRACE_SECONDS = 20.0


def _pump(name: str, stream: IO[bytes], width: int, lock: threading.Lock) -> None:
    for line in iter(stream.readline, b""):
        text = line.decode(errors="replace").rstrip()
        with lock:
            print(f"{name:<{width}} | {text}", flush=True)


def supervise(commands: Mapping[str, Sequence[str]], env: Mapping[str, str]) -> int:
    """Run until interrupted or until a child exits; return the exit status to use."""
    width = max(len(name) for name in commands)
    lock = threading.Lock()
    children: dict[str, subprocess.Popen[bytes]] = {}
    for name, argv in commands.items():
        child = subprocess.Popen(
            list(argv),
            env=dict(env),
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # Ctrl-C reaches us only; we stop children in order
        )
        children[name] = child
        stdout = child.stdout
        if stdout is not None:  # always, with stdout=PIPE; the check is for the type checker
            threading.Thread(target=_pump, args=(name, stdout, width, lock), daemon=True).start()

    stopping = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        stopping.set()

    previous = {s: signal.signal(s, on_signal) for s in (signal.SIGINT, signal.SIGTERM)}
    try:
        while not stopping.is_set():
            exited = [n for n, c in children.items() if c.poll() is not None]
            if exited:
                print(f"supervisor | {', '.join(exited)} exited; stopping the rest", flush=True)
                break
            stopping.wait(0.5)
    finally:
        _stop_all(children)
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    failed = [n for n, c in children.items() if c.returncode not in (0, -signal.SIGTERM)]
    return 0 if stopping.is_set() or not failed else 1


def _stop_all(children: Mapping[str, subprocess.Popen[bytes]]) -> None:
    for child in children.values():
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + GRACE_SECONDS
    for name, child in children.items():
        try:
            child.wait(timeout=max(deadline - time.monotonic(), 0.1))
        except subprocess.TimeoutExpired:
            print(f"supervisor | {name} did not stop in time; killing", file=sys.stderr)
            child.kill()
            child.wait()
