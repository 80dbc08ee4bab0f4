"""Kernel-side MLflow behaviour: autolog, async logging and friendly re-runs of cells."""

from __future__ import annotations

import atexit
import logging
import re
import sys
from types import ModuleType
from typing import Any

from jupyter_mlplat.config import MLPlat

log = logging.getLogger(__name__)

_START_RUN = re.compile(r"\bstart_run\s*\(")
_NESTED = re.compile(r"\bnested\s*=\s*True\b")


def configure_mlflow(config: MLPlat) -> None:
    """Turn on autolog and make sure buffered metrics are flushed when the kernel exits."""
    import mlflow

    if config.autolog:
        try:
            mlflow.autolog(silent=True)
        except Exception as err:  # an integration failing must not break the user's import
            log.warning("mlflow.autolog() failed: %s", err)
    if config.async_logging:
        atexit.register(mlflow.flush_async_logging)


def end_run_before_restart(cell: str) -> str | None:
    """End the active run if ``cell`` starts a new top-level run; return a notice if it did.

    Re-running a cell that calls ``mlflow.start_run()`` would otherwise fail with
    "Run ... is already active". Nested runs (``nested=True``) are left alone.
    """
    mlflow: Any = sys.modules.get("mlflow")
    if mlflow is None or not _START_RUN.search(cell) or _NESTED.search(cell):
        return None
    run = mlflow.active_run()
    if run is None:
        return None
    mlflow.end_run()
    return f"mlplat: ended the still-active run {run.info.run_id} so this cell can start a new one."


def on_import(config: MLPlat) -> Any:
    """A post-import callback that configures MLflow once."""

    def callback(_module: ModuleType) -> None:
        try:
            configure_mlflow(config)
        except Exception as err:
            log.warning("could not configure MLflow: %s", err)

    return callback
