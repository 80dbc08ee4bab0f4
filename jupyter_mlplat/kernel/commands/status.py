"""``%mlp status``: what this kernel is connected to and what every run will carry."""

from __future__ import annotations

import os
import sys
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat._version import __version__
from jupyter_mlplat.kernel.render import Report
from jupyter_mlplat.tracking.auth import USERNAME_VARIABLE, user_credential
from jupyter_mlplat.tracking.context import run_tags
from jupyter_mlplat.tracking.health import probe


def run(magics: Any, args: list[str], cell: str | None) -> Report:
    """Build the status report of this kernel."""
    if args:
        raise UsageError("%mlp status takes no arguments")
    config = magics.mlplat
    report = Report(f"ML Platform {__version__} — user {config.resolved_user}")

    if config.tracking_uri:
        health = probe(config.tracking_uri)
        report.add("Tracking", "server", config.tracking_uri, "ok" if health.ok else "error")
        if not health.ok:
            report.add("Tracking", "problem", health.detail, "error")
    else:
        report.add("Tracking", "server", "not configured (set MLP_TRACKING_URI)", "warn")
    credential = user_credential()
    report.add(
        "Tracking",
        "MLflow user",
        credential.get(USERNAME_VARIABLE) or "none (the tracking server has no users)",
    )
    report.add("Tracking", "experiment", config.experiment_for(config.notebook_path))
    report.add("Tracking", "autolog", "on" if config.autolog else "off")
    report.add("Tracking", "async logging", "on" if config.async_logging else "off")
    mlflow: Any = sys.modules.get("mlflow")
    active = mlflow.active_run() if mlflow is not None else None
    report.add("Tracking", "active run", active.info.run_id if active else "none")
    report.add("Tracking", "artifacts", "through the server's proxy (mlflow-artifacts:)")
    leaked = sorted(v for v in os.environ if config.is_secret(v))
    report.add(
        "Tracking",
        "storage credentials in kernel",
        ", ".join(leaked) if leaked else "none",
        "error" if leaked else "ok",
    )
    for key, value in run_tags(config).items():
        report.add("Run tags", key, value)
    report.add("Services", "spark", f"{config.spark_mode} {config.spark_remote}".strip())
    report.add("Services", "catalog", config.catalog_backend)
    report.add(
        "Services", "deploy target", f"{config.deploy_target} (namespace {config.namespace})"
    )
    return report
