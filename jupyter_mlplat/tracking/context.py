"""MLflow plugins (entry points) that tag runs and requests from platform kernels.

Registered in pyproject.toml under ``mlflow.run_context_provider`` and
``mlflow.request_header_provider``: MLflow calls them itself, nothing is patched.
"""

from __future__ import annotations

import functools
import socket
import subprocess
from pathlib import Path

from jupyter_mlplat._version import __version__
from jupyter_mlplat.config import MLPlat


@functools.cache
def _config() -> MLPlat:
    return MLPlat()


def _in_platform_kernel() -> bool:
    return bool(_config().tracking_uri and _config().notebook_path)


@functools.cache
def git_info(directory: str) -> dict[str, str]:
    """Commit, branch and origin URL of the git repository containing ``directory``, if any."""
    try:
        out = subprocess.run(
            ["git", "-C", directory, "rev-parse", "HEAD", "--abbrev-ref", "HEAD"],
            capture_output=True,
            text=True,
            timeout=5,
            check=True,
        ).stdout.split()
        remote = subprocess.run(
            ["git", "-C", directory, "config", "--get", "remote.origin.url"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,  # no remote is fine
        ).stdout.strip()
    except (OSError, subprocess.SubprocessError):
        return {}
    info = {"commit": out[0], "branch": out[1] if len(out) > 1 else ""}
    if remote:
        info["remote"] = remote
    return info


def run_tags(config: MLPlat) -> dict[str, str]:
    """Tags that say who ran what, where: user, notebook, server host and the notebook's commit."""
    tags = {
        "mlflow.user": config.resolved_user,
        "mlplat.user": config.resolved_user,
        "mlplat.server.host": socket.gethostname(),
        "mlplat.version": __version__,
    }
    if config.notebook_path:
        notebook = Path(config.notebook_path)
        tags |= {
            "mlflow.source.type": "NOTEBOOK",
            "mlflow.source.name": str(notebook),
            "mlplat.notebook.path": str(notebook),
        }
        git = git_info(str(notebook.parent))
        if git:
            tags["mlflow.source.git.commit"] = git["commit"]
            tags["mlflow.source.git.branch"] = git["branch"]
            if "remote" in git:
                tags["mlflow.source.git.repoURL"] = git["remote"]
    return tags


class NotebookRunContext:
    """``mlflow.run_context_provider``: tags every run started in a platform kernel."""

    def in_context(self) -> bool:
        return _in_platform_kernel()

    def tags(self) -> dict[str, str]:
        return run_tags(_config())


class PlatformRequestHeaders:
    """``mlflow.request_header_provider``: identifies the platform user to the tracking server."""

    def in_context(self) -> bool:
        return _in_platform_kernel()

    def request_headers(self) -> dict[str, str]:
        return {"X-MLPlat-User": _config().resolved_user, "X-MLPlat-Client": __version__}
