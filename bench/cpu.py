"""Where the CPU goes: CPU seconds used so far by each kind of process serving the stack.

The machine is shared (other people's tests run their own stacks, databases and vhosts), so
only what is ours is counted as ours: the stack's own processes (descendants of this one: web,
workers, realtime, nginx, the mail sink), and the PostgreSQL backends connected to the run's own
database, each counted for the process it serves (found by its client port), so that the
database's share of a bid is split by who asked. PostgreSQL's background processes (WAL
writer, checkpointer: they also write our commits) and the RabbitMQ node are shared by
everyone on the machine: they are reported under their own names, marked shared, and read as
an upper bound.
"""

from __future__ import annotations

import os
import re

import psutil


def _kind(process: psutil.Process, ours: set[int], database: str,
          clients: dict[int, str] | None = None) -> str | None:
    info = process.info
    name, command = info["name"] or "", " ".join(info["cmdline"] or [])
    if name.startswith("postgres") or command.startswith("postgres"):
        if f" {database} " in command + " ":
            return "postgresql" + _on_behalf_of(command, clients or {})
        return "postgresql (shared: background, other databases)"
    if "beam" in name:
        return "rabbitmq (shared node)"
    if process.pid not in ours:
        return None
    if name.startswith("nginx"):
        return "nginx"
    if "gunicorn" in command:
        return "web " + command.rsplit(" ", 1)[-1].split(".")[0]
    if " -m " in command and ("_service" in command or "mailsink" in command):
        return command.split(" -m ", 1)[1].split(" --")[0]
    return None


def _on_behalf_of(command: str, clients: dict[int, str]) -> str:
    """`` for <kind>``: which of the stack's processes a PostgreSQL backend serves, from the
    client port in its title (``postgres: user db 127.0.0.1(54321) idle``); empty if unknown."""
    match = re.search(r"\((\d+)\)", command)
    kind = clients.get(int(match.group(1))) if match else None
    return f" for {kind}" if kind else ""


def _client_ports(ours: set[int], database: str) -> dict[int, str]:
    """Local TCP port -> kind of the stack's process that holds that connection."""
    kinds: dict[int, str] = {}
    for pid in ours:
        try:
            process = psutil.Process(pid)
            process.info = {"name": process.name(), "cmdline": process.cmdline()}
            kind = _kind(process, ours, database)
            if kind is None:
                continue
            for connection in process.net_connections(kind="tcp"):
                if connection.laddr:
                    kinds[connection.laddr.port] = kind
        except psutil.Error:
            continue
    return kinds


def process_cpu(database: str, by_client: bool = True) -> dict[str, float]:
    """CPU seconds (user + system) so far, by kind of process (see the module's docstring);
    with ``by_client``, the run's PostgreSQL backends by the kind of process they serve."""
    try:
        ours = {child.pid for child in psutil.Process(os.getpid()).children(recursive=True)}
    except psutil.Error:
        ours = set()
    clients = _client_ports(ours, database) if by_client else {}
    totals: dict[str, float] = {}
    for process in psutil.process_iter(["name", "cmdline"]):
        try:
            kind = _kind(process, ours, database, clients)
            if kind is None:
                continue
            times = process.cpu_times()
            totals[kind] = totals.get(kind, 0.0) + times.user + times.system
        except psutil.Error:
            continue
    return totals


def cpu_between(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    """CPU seconds each kind used between two readings (kinds that started meanwhile count
    from zero), most first."""
    used = {kind: max(0.0, after[kind] - before.get(kind, 0.0)) for kind in after}
    return dict(sorted(used.items(), key=lambda item: -item[1]))
