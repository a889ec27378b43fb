"""Runs the compose file's health checks under podman where nothing else does.

podman runs a container's health check only when something calls ``podman healthcheck run``;
with systemd it sets up a timer per container, without systemd (containers, CI sandboxes)
nothing does, and a check never leaves "starting". This driver is that something: one
background process per compose project (``python -m tools.compose_health PROJECT``) that
runs each running container's check at the interval its healthcheck names (every
``STARTING_INTERVAL`` seconds within its ``start_period``, as Docker's ``start_interval``
would, so that start-up is not paced by a 30 s interval), and exits once the project has had
no containers for a while.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

PODMAN = "podman"
STARTING_INTERVAL = 2.0
POLL = 2.0
#: Seconds without a single container of the project before the driver exits.
IDLE_EXIT = 60.0
PROJECT_LABEL = "io.podman.compose.project"


def project_containers(project: str) -> list[dict]:
    """``podman inspect`` of every container of ``project`` (running or not)."""
    listed = subprocess.run(
        [PODMAN, "ps", "-a", "-q", "--filter", f"label={PROJECT_LABEL}={project}"],
        capture_output=True, text=True)
    ids = listed.stdout.split()
    if not ids:
        return []
    inspected = subprocess.run([PODMAN, "inspect", *ids], capture_output=True, text=True)
    try:
        return json.loads(inspected.stdout or "[]")
    except json.JSONDecodeError:  # a container removed between the two calls
        return []


def health_status(container: dict) -> str:
    """``healthy``, ``unhealthy``, ``starting``, or "" for a container without a check."""
    state = container.get("State", {})
    health = state.get("Health") or state.get("Healthcheck") or {}
    return health.get("Status", "") if container_healthcheck(container) else ""


def container_healthcheck(container: dict) -> dict | None:
    """The container's healthcheck configuration, or None."""
    check = container.get("Config", {}).get("Healthcheck")
    if not check or check.get("Test") in (None, [], ["NONE"]):
        return None
    return check


def interval_seconds(check: dict) -> float:
    """The check's interval (inspect gives nanoseconds), 30 s when unset, as Docker."""
    interval = check.get("Interval") or 30_000_000_000
    return max(interval / 1e9, 1.0)


def in_start_period(container: dict, check: dict) -> bool:
    """True while the container is within its healthcheck's ``start_period`` (failures do
    not count yet, and Docker too checks at its shorter ``start_interval`` then)."""
    started = container.get("State", {}).get("StartedAt", "")
    match = re.match(r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d)(\.\d+)?", started)
    if not match:
        return False
    started_at = datetime.fromisoformat(match.group(1)).replace(tzinfo=UTC)
    started_at += timedelta(seconds=float(match.group(2) or 0))
    age = (datetime.now(UTC) - started_at).total_seconds()
    return age < max((check.get("StartPeriod") or 0) / 1e9, STARTING_INTERVAL)


def drive(project: str) -> None:
    """Run health checks for ``project`` until it has had no containers for IDLE_EXIT s."""
    last_run: dict[str, float] = {}
    idle_since = time.monotonic()
    with ThreadPoolExecutor(max_workers=4) as pool:
        running: dict[str, object] = {}
        while True:
            now = time.monotonic()
            containers = project_containers(project)
            if containers:
                idle_since = now
            elif now - idle_since > IDLE_EXIT:
                return
            for container in containers:
                cid = container["Id"]
                check = container_healthcheck(container)
                if check is None or container["State"].get("Status") != "running":
                    continue
                if cid in running and not running[cid].done():
                    continue
                due = (STARTING_INTERVAL if in_start_period(container, check)
                       else interval_seconds(check))
                if now - last_run.get(cid, 0.0) >= due:
                    last_run[cid] = now
                    running[cid] = pool.submit(
                        subprocess.run, [PODMAN, "healthcheck", "run", cid],
                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(POLL)


if __name__ == "__main__":
    drive(sys.argv[1])
