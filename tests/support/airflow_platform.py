"""A platform under test with the embedded Airflow: ``mlplat up --no-spark`` on a notebook folder
whose ``pipelines/`` holds the given DAG files, so Airflow starts by itself."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path
from typing import Any

from tests.conftest import MLPLAT, ROOT, RunningPlatform, isolated_env


def one_task_dag(name: str) -> str:
    """The text of a DAG file defining DAG ``name`` with one task, run on demand."""
    return f"""
from datetime import datetime

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False)
def {name}():
    @task
    def one():
        return 1

    one()


{name}()
"""


def start_airflow_platform(
    base: Path, dags: dict[str, str], env: dict[str, str] | None = None, timeout: float = 600
) -> RunningPlatform:
    """Write ``dags`` (path under ``pipelines/`` → text), run ``mlplat up`` and wait until
    Airflow is healthy (``platform.json`` names its URL)."""
    notebooks = base / "notebooks"
    (notebooks / "pipelines").mkdir(parents=True)
    for name, body in dags.items():
        path = notebooks / "pipelines" / name
        path.parent.mkdir(exist_ok=True)
        path.write_text(body)
    state = base / "state"
    log = (base / "mlplat-up.log").open("ab")
    process = subprocess.Popen(
        [*MLPLAT, "--state-dir", str(state), "up", "--no-spark", "--notebook-dir", str(notebooks)],
        stdout=log,
        stderr=subprocess.STDOUT,
        env=isolated_env(base) | (env or {}),
        cwd=ROOT,
        start_new_session=True,
    )
    runtime: dict[str, Any] = {}
    deadline = time.monotonic() + timeout
    while not runtime.get("airflow_url"):  # written once Airflow is healthy
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            raise RuntimeError((base / "mlplat-up.log").read_text()[-4000:])
        time.sleep(1)
        try:
            runtime = json.loads((state / "platform.json").read_text())
        except (OSError, ValueError):
            runtime = {}
    return RunningPlatform(process, state, notebooks, runtime)
