"""Fixtures of the unit tests."""

from __future__ import annotations

from typing import Any

import pytest


@pytest.fixture(scope="session")
def ipython_shell() -> Any:
    """IPython's global test shell, whichever test file asks for it first."""
    from IPython.testing import globalipapp

    globalipapp.start_ipython()  # once per process; later calls return None
    return globalipapp.get_ipython()  # replaced by the shell's own get_ipython once started
