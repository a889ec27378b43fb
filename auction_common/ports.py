"""Choosing a port for a server a program is about to start (the stacks, the mail sink)."""

from __future__ import annotations

import random
import socket
import threading
from pathlib import Path

#: Where Linux says which local ports it hands to outgoing connections.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_random = random.SystemRandom()
#: Ports this process has handed out: a stack chooses all its ports before its servers bind
#: them, so a port that is free now may already be another of its servers' (12 ports drawn
#: from ~12,700 collide in ~0.5% of the stacks; a test run starts dozens).
_handed_out: set[int] = set()
_handing = threading.Lock()


def ephemeral_range() -> tuple[int, int]:
    """The kernel's range of ports for outgoing connections (Linux's default elsewhere)."""
    try:
        low, high = (int(part) for part in EPHEMERAL_RANGE.read_text().split())
        return low, high
    except (OSError, ValueError):
        return 32768, 60999


def free_port(host: str = "127.0.0.1") -> int:
    """A TCP port nobody uses now, **outside** the kernel's ephemeral range.

    A port the kernel chose for ``bind(0)`` comes from that range, where it can hand the same
    port to an outgoing connection (a pooled database connection's local end) between this
    choice and the server's own bind: the server (nginx retrying for its whole start-up,
    gunicorn) then cannot bind for as long as that connection lives. Ports below the range
    are never handed out that way; of those, a random one that binds on every address now and
    that this process has not handed out before."""
    low, high = ephemeral_range()
    candidates = range(20000, low) if low > 21000 else range(high + 1, 65536)
    for _ in range(500):
        port = _random.choice(candidates)
        with _handing:
            if port in _handed_out:
                continue
            with socket.socket() as sock:
                try:
                    sock.bind(("0.0.0.0" if host in ("127.0.0.1", "localhost") else host,
                               port))
                except OSError:
                    continue
            _handed_out.add(port)
        return port
    raise RuntimeError(f"no free port in {candidates.start}-{candidates.stop - 1}")
