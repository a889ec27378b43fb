"""``make up``'s supervisor: a process that dies is started again, with back-off, and said so."""

from __future__ import annotations

import json
import signal
import subprocess
import sys

from tests.support.waiting import wait_for
from tools.services import ROOT
from tools.supervise import restart_delay


def test_the_back_off_doubles_while_a_process_keeps_dying_up_to_thirty_seconds():
    assert [restart_delay(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 2.0, 4.0]
    assert restart_delay(20) == 30.0


def test_a_dying_process_is_started_again_and_the_log_says_so_until_told_to_stop(tmp_path):
    log, pid_file = tmp_path / "crashy.log", tmp_path / "crashy.pid"
    crashing = [sys.executable, "-c", "import time; time.sleep(0.2); raise SystemExit(3)"]
    with open(log, "ab") as out:
        supervisor = subprocess.Popen(
            [sys.executable, "-m", "tools.supervise", "--name", "crashy", "--pid-file",
             str(pid_file), "--", *crashing],
            cwd=ROOT, stdout=out, stderr=subprocess.STDOUT, start_new_session=True)

    def lines() -> list[dict]:
        return [json.loads(line) for line in log.read_text().splitlines()
                if line.startswith("{")]

    try:
        wait_for(lambda: sum(e["message"] == "process restarted" for e in lines()) >= 2,
                 timeout=30, interval=0.1, message="two restarts")
        exits = [e for e in lines() if e["message"] == "process exited; restarting"]
        assert exits[0]["program"] == "crashy" and exits[0]["returncode"] == 3
        assert [e["restart_in_seconds"] for e in exits[:2]] == [0.5, 1.0]
    finally:
        supervisor.send_signal(signal.SIGTERM)
        assert supervisor.wait(timeout=15) == 0
    assert not pid_file.exists()
    assert lines()[-1]["message"] == "process stopped"
