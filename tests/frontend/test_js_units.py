"""The browser modules' unit tests (``tests/frontend/js/*.test.mjs``), run by ``node --test``
so that ``make test`` runs them with everything else."""

from __future__ import annotations

import subprocess

from tests.support.node import NODE_TESTS_DIR, ROOT, node


def test_the_browser_modules_pass_their_node_tests():
    files = sorted(NODE_TESTS_DIR.glob("*.test.mjs"))
    assert files, f"no node tests in {NODE_TESTS_DIR}"
    done = subprocess.run([node(), "--test", *map(str, files)], cwd=ROOT,
                          capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 0, f"node --test failed:\n{done.stdout}\n{done.stderr}"
