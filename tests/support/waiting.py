"""Waiting on a condition (bounded polling), never a fixed sleep."""

from __future__ import annotations

import time


def wait_for(condition, timeout: float = 10.0, interval: float = 0.05, message: str = ""):
    """Poll ``condition`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = condition()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {message or condition}")
        time.sleep(interval)
