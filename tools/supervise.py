"""``python -m tools.supervise --name NAME [--pid-file F] -- COMMAND...``: keep one process
running, the way compose's ``restart: unless-stopped`` and Kubernetes do for a container.

``make up`` starts each of its processes under one of these. When the process exits without
having been asked to, what it left behind in this process group is killed (gunicorn's or
nginx's orphaned workers would hold the port), the log says so, and it is started again after
a back-off: 0.5 s, doubling up to 30 s while it keeps failing, back to 0.5 s once it has run
for 30 s. SIGTERM or SIGINT stops the process (SIGTERM, then SIGKILL after 10 s) and this
supervisor with it. The current pid of the process is written to ``--pid-file``.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from auction_common.logs import configure_logging

log = logging.getLogger("supervisor")

FIRST_DELAY, MAX_DELAY, HEALTHY_AFTER, STOP_TIMEOUT = 0.5, 30.0, 30.0, 10.0


def restart_delay(failures: int) -> float:
    """Back-off before the start that follows ``failures`` quick exits in a row."""
    return min(MAX_DELAY, FIRST_DELAY * 2 ** max(0, failures - 1))


def group_members() -> list[int]:
    """Pids of the other processes in this process group (Linux ``/proc``)."""
    group, me, members = os.getpgrp(), os.getpid(), []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == me:
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 2 and int(fields[2]) == group and fields[0] != "Z":
            members.append(int(entry.name))
    return members


def kill_leftovers() -> None:
    """SIGKILL what the process left in this group (orphaned workers), when the group is ours
    alone (this supervisor leads it, as ``make up`` starts it)."""
    if os.getpgrp() != os.getpid():
        return
    for pid in group_members():
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            pass


class Supervisor:
    """Runs ``argv`` until told to stop, starting it again whenever it exits."""

    def __init__(self, name: str, argv: list[str], pid_file: Path | None = None):
        self.name, self.argv, self.pid_file = name, argv, pid_file
        self.stopping = False
        self.child: subprocess.Popen | None = None

    def request_stop(self, signum: int, _frame=None) -> None:
        """Signal handler: stop the process and do not start it again."""
        self.stopping = True
        if self.child is not None and self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)

    def run(self) -> int:
        """Supervise until stopped; returns the exit status for this process."""
        for signum in (signal.SIGTERM, signal.SIGINT):
            signal.signal(signum, self.request_stop)
        failures, starts = 0, 0
        while not self.stopping:
            started = time.monotonic()
            self.child = subprocess.Popen(self.argv)
            starts += 1
            if self.pid_file is not None:
                self.pid_file.write_text(f"{self.child.pid}\n")
            if starts > 1:
                log.warning("process restarted", extra={
                    "program": self.name, "pid": self.child.pid, "restarts": starts - 1})
            code = self._wait()
            if self.stopping:
                break
            ran = time.monotonic() - started
            failures = 1 if ran >= HEALTHY_AFTER else failures + 1
            delay = restart_delay(failures)
            log.error("process exited; restarting", extra={
                "program": self.name, "returncode": code, "ran_seconds": round(ran, 1),
                "restart_in_seconds": delay})
            kill_leftovers()
            deadline = time.monotonic() + delay
            while not self.stopping and time.monotonic() < deadline:
                time.sleep(0.05)
        self._stop_child()
        if self.pid_file is not None:
            self.pid_file.unlink(missing_ok=True)
        return 0

    def _wait(self) -> int:
        assert self.child is not None
        while True:
            try:
                return self.child.wait()
            except KeyboardInterrupt:  # a SIGINT before our handler was installed
                self.request_stop(signal.SIGINT)

    def _stop_child(self) -> None:
        if self.child is None:
            return
        if self.child.poll() is None:
            self.child.send_signal(signal.SIGTERM)
            try:
                self.child.wait(timeout=STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                log.error("process did not stop in time; killing it",
                          extra={"program": self.name})
        kill_leftovers()
        log.info("process stopped", extra={"program": self.name})


def main(argv: list[str] | None = None) -> None:
    """Parse the command line and supervise."""
    parser = argparse.ArgumentParser(prog="python -m tools.supervise")
    parser.add_argument("--name", required=True)
    parser.add_argument("--pid-file", type=Path)
    parser.add_argument("command", nargs=argparse.REMAINDER)
    args = parser.parse_args(argv)
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("a command to run is required")
    configure_logging("supervisor", os.environ.get("LOG_LEVEL", "INFO"),
                      os.environ.get("LOG_JSON", "true").lower() == "true")
    sys.exit(Supervisor(args.name, command, args.pid_file).run())


if __name__ == "__main__":
    main()
