"""Polling for a condition that becomes true on its own (a process ends, an informer catches up)."""

from __future__ import annotations

import time
from collections.abc import Callable


def eventually(check: Callable[[], bool], timeout: float = 10, what: str = "condition") -> None:
    """Return once ``check()`` holds; fail the test if it still does not after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, f"{what} not met within {timeout} s"
        time.sleep(0.05)
