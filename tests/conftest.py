"""Fixtures that start the real platform (MLflow + JupyterLab) on free loopback ports."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from tests.support.jupyter import JupyterServer

pytest_plugins = ["tests.support.kubelite", "tests.support.postgres"]

ROOT = Path(__file__).resolve().parents[1]
MLPLAT = [sys.executable, "-m", "jupyter_mlplat.platform.cli"]

#: Planted in the platform's environment: a test checks that none of it reaches a kernel.
FAKE_SECRETS = {
    "AWS_ACCESS_KEY_ID": "AKIAFAKEFAKEFAKE",
    "AWS_SECRET_ACCESS_KEY": "fake-secret-must-not-leak",
    "AZURE_STORAGE_KEY": "fake-azure-key",
}


@dataclass
class RunningPlatform:
    """A platform started with ``mlplat up`` for the tests."""

    process: subprocess.Popen[bytes]
    state_dir: Path
    notebook_dir: Path
    runtime: dict

    @property
    def lab(self) -> JupyterServer:
        return JupyterServer(f"http://127.0.0.1:{self.runtime['lab_port']}", self.runtime["token"])

    @property
    def tracking_uri(self) -> str:
        return str(self.runtime["tracking_uri"])


def isolated_env(base: Path) -> dict[str, str]:
    """Environment of a platform under test: its own Jupyter/IPython dirs, planted secrets."""
    env = dict(os.environ)
    for name in ("MLFLOW_TRACKING_URI", "MLP_TRACKING_URI", "JUPYTERHUB_USER", "MLP_USER"):
        env.pop(name, None)
    env |= {
        "JUPYTER_CONFIG_DIR": str(base / "jupyter-config"),
        "JUPYTER_DATA_DIR": str(base / "jupyter-data"),
        "JUPYTER_RUNTIME_DIR": str(base / "jupyter-runtime"),
        "IPYTHONDIR": str(base / "ipython"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "MLP_USER": "ada",
        # the local model servers' environment: built once, reused by every run (gitignored)
        "MLP_SERVING_ENV_DIR": str(ROOT / ".cache" / "serving-env"),
        **FAKE_SECRETS,
    }
    return env


def start_platform(
    base: Path, state_dir: Path, *options: str, timeout: float = 600
) -> RunningPlatform:
    """Run ``mlplat up [options]`` and wait until it has written its runtime file."""
    notebook_dir = base / "notebooks"
    notebook_dir.mkdir(parents=True, exist_ok=True)
    # the lab serves this checkout's built extension, whichever checkout the venv links
    env = isolated_env(base)
    built = ROOT / "jupyter_mlplat" / "labextension"
    if (built / "package.json").exists():
        linked = base / "jupyter-data" / "labextensions" / "jupyter-mlplat"
        linked.parent.mkdir(parents=True, exist_ok=True)
        if not linked.exists():
            linked.symlink_to(built, target_is_directory=True)
        env["JUPYTER_PREFER_ENV_PATH"] = "0"  # the (isolated) user data dir comes first
    log = (base / "mlplat-up.log").open("ab")
    process = subprocess.Popen(
        [
            *MLPLAT,
            "--state-dir",
            str(state_dir),
            "up",
            "--notebook-dir",
            str(notebook_dir),
            *options,
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=env,
        cwd=ROOT,
        start_new_session=True,  # on failure the whole group goes, servers included
    )
    runtime_file = state_dir / "platform.json"
    deadline = time.monotonic() + timeout
    while not runtime_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            stop_group(process)
            raise RuntimeError((base / "mlplat-up.log").read_text()[-4000:])
        time.sleep(0.2)
    return RunningPlatform(process, state_dir, notebook_dir, json.loads(runtime_file.read_text()))


def stop_platform(platform: RunningPlatform) -> int:
    """SIGTERM ``mlplat up`` (as Ctrl-C would) and return its exit code."""
    platform.process.send_signal(signal.SIGTERM)
    try:
        return platform.process.wait(90)
    finally:
        stop_group(platform.process)


def stop_group(process: subprocess.Popen[bytes]) -> None:
    """Stop ``mlplat up`` however it is doing: SIGTERM lets it stop its servers, then KILL."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGTERM)
    with contextlib.suppress(subprocess.TimeoutExpired):
        process.wait(90)
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(process.pid, signal.SIGKILL)


@pytest.fixture(scope="session")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    """One platform for the whole session."""
    base = tmp_path_factory.mktemp("platform")
    running = start_platform(base, base / "state")
    yield running
    stop_platform(running)


@pytest.fixture(scope="session")
def lab(platform: RunningPlatform) -> JupyterServer:
    return platform.lab


@pytest.fixture(scope="session")
def mlflow_client(platform: RunningPlatform):
    from mlflow import MlflowClient

    return MlflowClient(platform.tracking_uri)
