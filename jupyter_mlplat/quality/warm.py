"""Warm great_expectations (~5 s to import) in the background for notebooks that use it."""

from __future__ import annotations

import contextlib
import re
import threading
from pathlib import Path

#: What marks a notebook as one that runs data-quality checks.
USES_CHECKS = re.compile(
    r"%%mlp check\b|jupyter_mlplat\.quality|from jupyter_mlplat import quality"
)


def notebook_uses_checks(notebook_path: str) -> bool:
    """Whether the saved notebook mentions ``%%mlp check`` or the quality API."""
    if not notebook_path:
        return False
    path = Path(notebook_path)
    if not path.is_file():  # a path relative to the server root: the kernel runs next to it
        path = Path.cwd() / path.name
    try:
        with path.open(encoding="utf-8", errors="replace") as notebook:
            return bool(USES_CHECKS.search(notebook.read(20_000_000)))
    except OSError:
        return False


def warm_in_background(notebook_path: str) -> threading.Thread:
    """Start a daemon thread that imports GX and builds the check context, if the notebook
    uses checks; the first check then costs what later ones cost."""

    def warm() -> None:
        if not notebook_uses_checks(notebook_path):
            return
        with contextlib.suppress(Exception):  # only a warm-up: the real check reports errors
            from jupyter_mlplat.quality.engine import gx_engine

            gx_engine()

    thread = threading.Thread(target=warm, name="mlplat-warm-gx", daemon=True)
    thread.start()
    return thread
