"""Faults on a platform of its own (`mlplat up --no-spark`): a service dies under a user's work
and the work is either kept or the user is told — never lost in silence."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator

import pytest

from tests.conftest import RunningPlatform, start_platform, stop_platform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    base = tmp_path_factory.mktemp("faults")
    running = start_platform(base, base / "state", "--no-spark")
    yield running
    stop_platform(running)


@pytest.fixture(scope="module")
def kernel(platform):
    lab = platform.lab
    with lab.kernel(lab.start_session("faults.ipynb")) as connection:
        yield connection


def run_ok(kernel, code: str, timeout: float = 300):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error)
    return result


def mlflow_pid(platform: RunningPlatform) -> int:
    return json.loads((platform.state_dir / "platform.json").read_text())["pids"]["mlflow"]


def wait_healthy(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not come back"
            time.sleep(0.5)


def test_mlflow_killed_during_an_async_logged_run_loses_no_metric(platform, kernel):
    """The kernel logs asynchronously (the platform's default); MLflow is killed halfway and the
    supervisor restarts it on the same URL. Every value is on the server after the run ends."""
    run_ok(
        kernel,
        "import mlflow\n"
        "run = mlflow.start_run(run_name='through-a-crash')\n"
        "for i in range(300):\n"
        "    mlflow.log_metric('loss', 1 / (i + 1), step=i)\n"
        "mlflow.flush_async_logging()",
    )
    before = mlflow_pid(platform)
    os.killpg(before, signal.SIGKILL)
    # the user goes on logging while the server is down and while it comes back
    run_ok(
        kernel,
        "for i in range(300, 600):\n"
        "    mlflow.log_metric('loss', 1 / (i + 1), step=i)\n"
        "mlflow.end_run()\n"
        "print(run.info.run_id)",
        timeout=600,
    )
    assert mlflow_pid(platform) != before
    wait_healthy(platform.tracking_uri)
    from mlflow import MlflowClient

    run_id = run_ok(kernel, "print(run.info.run_id)").stdout.strip()
    history = MlflowClient(platform.tracking_uri).get_metric_history(run_id, "loss")
    assert sorted(m.step for m in history) == list(range(600))
    status = MlflowClient(platform.tracking_uri).get_run(run_id).info.status
    assert status == "FINISHED"
