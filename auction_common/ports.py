"""Choosing a port for a server a program is about to start (the stacks, the mail sink)."""

from __future__ import annotations

import random
import socket
from pathlib import Path

#: Where Linux says which local ports it hands to outgoing connections.
EPHEMERAL_RANGE = Path("/proc/sys/net/ipv4/ip_local_port_range")
_random = random.SystemRandom()


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
    are never handed out that way; of those, a random one that binds on every address now."""
    low, high = ephemeral_range()
    candidates = range(20000, low) if low > 21000 else range(high + 1, 65536)
    for _ in range(500):
        port = _random.choice(candidates)
        with socket.socket() as sock:
            try:
                sock.bind(("0.0.0.0" if host in ("127.0.0.1", "localhost") else host, port))
            except OSError:
                continue
        return port
    raise RuntimeError(f"no free port in {candidates.start}-{candidates.stop - 1}")
