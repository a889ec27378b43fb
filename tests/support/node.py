"""Running the page's own ES modules under Node, for the frontend's tests."""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
#: The page's modules (frontend/static/js/), and their node tests (tests/frontend/js/).
MODULES_DIR = ROOT / "frontend" / "static" / "js"
NODE_TESTS_DIR = ROOT / "tests" / "frontend" / "js"


def node() -> str:
    """The ``node`` executable; skips the test where Node is not installed."""
    found = shutil.which("node")
    if not found:
        pytest.skip("node is not installed: the browser modules' unit tests need it")
    return found


def call_each(module: str, function: str, cases: list[list]) -> list:
    """``function(*case)`` of ``frontend/static/js/<module>`` for each case, as Node returns it
    (through JSON): what the browser computes for the same inputs."""
    script = (
        f"import * as module from {json.dumps((MODULES_DIR / module).as_uri())};\n"
        "let input = '';\n"
        "for await (const chunk of process.stdin) input += chunk;\n"
        f"const call = module[{json.dumps(function)}];\n"
        "const results = JSON.parse(input).map((args) => call(...args));\n"
        "process.stdout.write(JSON.stringify(results));\n"
    )
    done = subprocess.run([node(), "--input-type=module", "-e", script], input=json.dumps(cases),
                          capture_output=True, text=True, timeout=60, check=False)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)
