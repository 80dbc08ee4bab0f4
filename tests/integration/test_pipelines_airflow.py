"""The embedded Airflow of ``mlplat up``: scheduler-started runs, asset events from the catalog,
the MLflow listener, and the pipelines REST API (list, trigger, runs, pause, log tail, import
errors, owner filtering, retries).

One platform (MLflow + JupyterLab + Airflow, no Spark) for the module; its notebook folder has
the DAG files below, so ``mlplat up`` starts Airflow by itself.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest

from tests.conftest import RunningPlatform, stop_platform
from tests.support.airflow_platform import start_airflow_platform

pytestmark = pytest.mark.integration

USER = "ada"

HEADER = f"""
from datetime import datetime, timedelta

from airflow.sdk import dag, task

from jupyter_mlplat.pipelines.assets import table_asset

MINE = dict(start_date=datetime(2024, 1, 1), catchup=False, tags=["mlplat", "owner:{USER}"],
            default_args={{"owner": "{USER}", "retries": 0}})
"""

DAGS = {
    "train.py": """
@dag(schedule=None, **MINE)
def train():
    @task
    def prepare():
        return "demo.iris"

    @task
    def fit(table):
        import mlflow

        with mlflow.start_run():
            mlflow.log_metric("accuracy", 0.97)
        return table

    fit(prepare())

train()
""",
    "every_minute.py": """
@dag(schedule="* * * * *", **MINE)
def every_minute():
    @task
    def tick():
        return 1

    tick()

every_minute()
""",
    "on_table.py": """
@dag(schedule=[table_asset("demo.iris")], **MINE)
def on_table():
    @task
    def retrain():
        return "retrained"

    retrain()

on_table()
""",
    "broken.py": """
@dag(schedule=None, **MINE)
def broken():
    @task
    def explode():
        raise ValueError("boom: the label column is missing")

    explode()

broken()
""",
    "flaky.py": """
@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["owner:ada"],
     default_args={"owner": "ada", "retries": 1, "retry_delay": timedelta(seconds=1)})
def flaky():
    @task
    def sometimes(ti=None):
        if ti.try_number < 2:
            raise RuntimeError("first try fails")
        return "ok"

    sometimes()

flaky()
""",
    # no retries of its own: the platform's default (one retry) applies
    "killed.py": """
@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["owner:ada"],
     default_args={"owner": "ada"})
def killed():
    @task
    def long_step(ti=None):
        import os
        import pathlib
        import time

        mark = pathlib.Path(__file__).with_name(f"killed-{ti.try_number}.pid")
        mark.write_text(str(os.getpid()))
        if ti.try_number < 2:
            time.sleep(300)  # killed meanwhile
        return "done"

    long_step()

killed()
""",
    "bobs.py": """
@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["owner:bob"],
     default_args={"owner": "bob"})
def bobs():
    @task
    def secret():
        return 1

    secret()

bobs()
""",
    # on a shared Airflow, import errors show for files published from the user's namespace
    "mlplat-ada/bad_import.py": """
from airflow.sdk import dag

x = 1
raise ImportError("no module named feature_store")  # line 5
""",
    "mlplat-bob/bad_too.py": """
from airflow.sdk import dag

raise ImportError("bob's problem")
""",
}


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    base = tmp_path_factory.mktemp("pipelines")
    catalog = base / "catalog.json"
    catalog.write_text(json.dumps({"demo": {"iris": {"rows": 150, "columns": ["a", "b"]}}}))
    env = {
        "MLP_AIRFLOW_SHARED": "true",
        "MLP_NAMESPACE": f"mlplat-{USER}",
        "MLP_CATALOG_BACKEND": "tests.support.catalog_file:FileCatalog",
        "MLP_TEST_CATALOG_FILE": str(catalog),
        "MLP_CATALOG_REFRESH_SECONDS": "0",
        "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "3",  # the platform's default, shortened
    }
    dags = {name: body if "/" in name else HEADER + body for name, body in DAGS.items()}
    running = start_airflow_platform(base, dags, env)
    running.catalog_file = catalog  # type: ignore[attr-defined]
    yield running
    assert stop_platform(running) == 0
    assert "Airflow ready in" in (base / "mlplat-up.log").read_text()


def api(platform: RunningPlatform, method: str, path: str, **kwargs: Any) -> Any:
    return platform.lab.api(method, f"mlplat/api/pipelines{path}", **kwargs)


def wait_for_run(
    platform: RunningPlatform, dag_id: str, done: Any, timeout: float = 240
) -> dict[str, Any]:
    """Poll the runs of ``dag_id`` until one satisfies ``done``."""
    deadline = time.monotonic() + timeout
    runs: list[dict[str, Any]] = []
    while time.monotonic() < deadline:
        response = api(platform, "GET", f"/{dag_id}/runs?limit=20")
        assert response.status_code == 200, response.text
        runs = response.json()["runs"]
        for run in runs:
            if done(run):
                return run
        time.sleep(2)
    raise AssertionError(f"no run of {dag_id} as expected after {timeout} s: {runs}")


def finished(run: dict[str, Any]) -> bool:
    return run["state"] in ("success", "failed")


def test_list_shows_own_pipelines_and_import_errors(platform: RunningPlatform) -> None:
    deadline = time.monotonic() + 240
    while True:  # the DAG processor parses the files a few seconds after Airflow is up
        body = api(platform, "GET", "").json()
        ids = {p["dag_id"] for p in body.get("pipelines", [])}
        if {"train", "every_minute", "on_table", "broken", "flaky", "killed"} <= ids and body.get(
            "import_errors"
        ):
            break
        assert time.monotonic() < deadline, body
        time.sleep(2)
    assert "bobs" not in ids  # another user's pipeline on a shared Airflow
    train = next(p for p in body["pipelines"] if p["dag_id"] == "train")
    assert train["owner"] == USER and train["file"] == "train.py" and not train["paused"]
    minute = next(p for p in body["pipelines"] if p["dag_id"] == "every_minute")
    assert minute["schedule"] == "* * * * *" and minute["next_run"]
    (error,) = body["import_errors"]  # not bob's
    assert error["file"] == "mlplat-ada/bad_import.py" and error["line"] == 5
    assert "feature_store" in error["message"]


def test_someone_elses_pipeline_cannot_be_triggered(platform: RunningPlatform) -> None:
    response = api(platform, "POST", "/bobs/runs")
    assert response.status_code == 404, response.text
    assert api(platform, "POST", "/no_such_dag/runs").status_code == 404


def test_scheduler_starts_the_scheduled_pipeline(platform: RunningPlatform) -> None:
    run = wait_for_run(platform, "every_minute", lambda r: r["state"] == "success")
    assert run["run_type"] == "scheduled" and run["triggered_by"] != "rest_api"
    assert [t["state"] for t in run["tasks"]] == ["success"]


def test_trigger_runs_and_is_tracked_in_mlflow(platform: RunningPlatform) -> None:
    response = api(platform, "POST", "/train/runs")
    assert response.status_code == 202, response.text
    queued = response.json()
    assert queued["state"] == "queued" and queued["triggered_by"] == "rest_api"
    assert {t["task_id"] for t in queued["tasks"]} == {"prepare", "fit"}
    run = wait_for_run(platform, "train", lambda r: r["run_id"] == queued["run_id"] and finished(r))
    assert run["state"] == "success", run
    assert [(t["task_id"], t["state"], t["try_number"]) for t in run["tasks"]] == [
        ("prepare", "success", 1),
        ("fit", "success", 1),
    ]

    from mlflow import MlflowClient

    client = MlflowClient(platform.tracking_uri)
    experiment = client.get_experiment_by_name(f"/Users/{USER}")
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`mlplat.pipeline.run_id` = '{run['run_id']}'",
    )
    parent = next(r for r in runs if r.data.tags["mlplat.pipeline.kind"] == "dag_run")
    children = {r.data.tags.get("mlplat.pipeline.task_id"): r for r in runs if r is not parent}
    assert parent.data.tags["mlplat.pipeline.dag_id"] == "train"
    deadline = time.monotonic() + 30  # the scheduler closes the parent when it sees the run end
    while client.get_run(parent.info.run_id).info.status != "FINISHED":
        assert time.monotonic() < deadline
        time.sleep(1)
    assert set(children) == {"prepare", "fit"}
    for task_id, child in children.items():
        tags = child.data.tags
        assert tags["mlflow.parentRunId"] == parent.info.run_id
        assert tags["mlplat.pipeline.dag_id"] == "train"
        assert tags["mlplat.pipeline.task_id"] == task_id
        assert tags["mlplat.pipeline.try_number"] == "1"
        assert child.info.status == "FINISHED"
    assert children["fit"].data.metrics == {"accuracy": 0.97}  # mlflow.start_run() resumed it

    # every read above (listing, polling runs with their tasks) wrote nothing to Airflow's
    # database: its batch read of task instances writes an audit row, which on SQLite can stall
    # Airflow's API server for its whole lock timeout
    audit = platform.lab.api(
        "GET", "mlplat/airflow/api/v2/eventLogs?event=get_task_instances_batch&limit=1"
    )
    assert audit.status_code == 200, audit.text
    assert audit.json()["total_entries"] == 0, audit.json()


def test_failed_task_log_tail(platform: RunningPlatform) -> None:
    run_id = api(platform, "POST", "/broken/runs").json()["run_id"]
    run = wait_for_run(platform, "broken", lambda r: r["run_id"] == run_id and finished(r))
    assert run["state"] == "failed"
    assert run["tasks"][0]["state"] == "failed"
    path = f"/broken/runs/{quote(run_id, safe='')}/tasks/explode/log?tail=40"
    response = api(platform, "GET", path)
    assert response.status_code == 200, response.text
    log = response.json()["log"]
    assert "ValueError: boom: the label column is missing" in log
    assert 'broken.py", line' in log
    assert len(log.splitlines()) <= 40


def test_failed_task_is_retried(platform: RunningPlatform) -> None:
    run_id = api(platform, "POST", "/flaky/runs").json()["run_id"]
    run = wait_for_run(platform, "flaky", lambda r: r["run_id"] == run_id and finished(r))
    assert run["state"] == "success"
    assert [(t["state"], t["try_number"]) for t in run["tasks"]] == [("success", 2)]

    from mlflow import MlflowClient

    client = MlflowClient(platform.tracking_uri)
    experiment = client.get_experiment_by_name(f"/Users/{USER}")
    tries = client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`mlplat.pipeline.run_id` = '{run_id}' "
        "and tags.`mlplat.pipeline.kind` = 'task'",
    )
    by_try = {r.data.tags["mlplat.pipeline.try_number"]: r for r in tries}
    assert set(by_try) == {"1", "2"}
    assert by_try["1"].info.status == "FAILED"
    assert "first try fails" in by_try["1"].data.tags["mlplat.pipeline.error"]
    assert by_try["2"].info.status == "FINISHED"


def test_a_killed_task_is_retried_and_the_api_shows_each_try(platform: RunningPlatform) -> None:
    """SIGKILL of a running task's process: Airflow marks it up for retry (the platform's
    default retry), runs try 2, and the runs API the Pipelines panel reads shows each step."""
    import os
    import signal

    run_id = api(platform, "POST", "/killed/runs").json()["run_id"]
    mark = platform.notebook_dir / "pipelines" / "killed-1.pid"
    deadline = time.monotonic() + 240
    while not mark.exists() or not mark.read_text():
        assert time.monotonic() < deadline, "the task never started"
        time.sleep(0.5)
    seen = [tasks_of(platform, run_id)]
    os.kill(int(mark.read_text()), signal.SIGKILL)
    deadline = time.monotonic() + 240
    while seen[-1] != [("success", 2)]:
        assert time.monotonic() < deadline, seen
        time.sleep(0.25)
        now = tasks_of(platform, run_id)
        if now != seen[-1]:
            seen.append(now)
    assert seen[0] == [("running", 1)], seen
    assert [("up_for_retry", 1)] in seen, seen
    print(f"the task's states and tries as the API showed them: {seen}")
    run = wait_for_run(platform, "killed", lambda r: r["run_id"] == run_id and finished(r))
    assert run["state"] == "success", run
    log = api(platform, "GET", f"/killed/runs/{quote(run_id, safe='')}/tasks/long_step/log")
    assert log.status_code == 200, log.text


def tasks_of(platform: RunningPlatform, run_id: str) -> list[tuple[str, int]]:
    runs = api(platform, "GET", "/killed/runs").json()["runs"]
    run = next(r for r in runs if r["run_id"] == run_id)
    return [(t["state"], t["try_number"]) for t in run["tasks"]]


def test_table_change_in_the_catalog_starts_the_asset_pipeline(platform: RunningPlatform) -> None:
    lab = platform.lab
    assert lab.api("GET", "mlplat/api/catalog/tables/demo/iris").status_code == 200  # indexed
    assert not api(platform, "GET", "/on_table/runs").json()["runs"]
    catalog: Path = platform.catalog_file  # type: ignore[attr-defined]
    catalog.write_text(json.dumps({"demo": {"iris": {"rows": 300, "columns": ["a", "b"]}}}))
    assert lab.api("GET", "mlplat/api/catalog/tables/demo/iris").json()["row_count"] == 300
    run = wait_for_run(platform, "on_table", lambda r: r["state"] == "success")
    assert run["run_type"] == "asset_triggered"


def test_pause_and_unpause(platform: RunningPlatform) -> None:
    paused = api(platform, "POST", "/every_minute/pause")
    assert paused.status_code == 200, paused.text
    assert paused.json()["paused"] is True
    listed = {p["dag_id"]: p for p in api(platform, "GET", "").json()["pipelines"]}
    assert listed["every_minute"]["paused"] is True
    unpaused = api(platform, "POST", "/every_minute/unpause").json()
    assert unpaused["paused"] is False and unpaused["dag_id"] == "every_minute"


def test_airflow_ui_is_proxied_behind_jupyter_auth(platform: RunningPlatform) -> None:
    import requests

    lab = platform.lab
    page = lab.api("GET", "mlplat/airflow/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    health = lab.api("GET", "mlplat/airflow/api/v2/monitor/health")
    assert health.json()["scheduler"]["status"] == "healthy"
    anonymous = requests.get(f"{lab.url}/mlplat/airflow/", timeout=10)
    assert anonymous.status_code == 403


def test_pipeline_runs_are_found_by_the_one_search(platform: RunningPlatform) -> None:
    """kind:pipeline finds Airflow's runs (the server's search index reads them every few
    seconds): by DAG, trigger and state, with the MLflow runs its tasks logged; an asset-started
    run names the table."""
    lab = platform.lab

    def found(q: str) -> list[dict[str, Any]]:
        response = lab.api("GET", "mlplat/api/search", params={"q": q})
        assert response.status_code == 200, response.text
        groups = {g["kind"]: g["results"] for g in response.json()["groups"]}
        return list(groups.get("pipeline_run", []))

    runs = api(platform, "GET", "/train/runs?limit=20").json()["runs"]
    if not any(r["triggered_by"] == "rest_api" for r in runs):  # this test alone
        api(platform, "POST", "/train/runs")
    run = wait_for_run(platform, "train", lambda r: r["triggered_by"] == "rest_api" and finished(r))
    started = time.monotonic()
    while True:  # the MLflow runs of its tasks are indexed by the same background sync
        hit = next((h for h in found("kind:pipeline pipeline:train rest_api")
                    if h["target"]["run"] == run["run_id"]), None)  # fmt: skip
        if hit is not None and "MLflow runs" in hit["subtitle"]:
            break
        assert time.monotonic() - started < 60, hit
        time.sleep(1)
    print(f"indexed {time.monotonic() - started:.1f} s after the run was seen finished")
    assert hit["id"] == f"train/{run['run_id']}"
    assert (
        hit["subtitle"].startswith(f"{run['state']} · manual") and "(rest_api)" in hit["subtitle"]
    )
    assert hit["target"]["panel"] == "pipelines" and hit["target"]["name"] == "train"
    assert len(hit["target"]["mlflow_runs"]) == 3  # the DAG run's and its two tasks'

    failed = found("kind:pipeline status:failed")
    assert all(h["subtitle"].startswith("failed · ") for h in failed)
    if any(r["state"] == "failed" for r in api(platform, "GET", "/broken/runs").json()["runs"]):
        assert "broken" in {h["target"]["name"] for h in failed}  # after the log tail test
    if api(platform, "GET", "/on_table/runs").json()["runs"]:  # after the catalog test
        [asset] = found("kind:pipeline pipeline:on_table")[:1]
        assert " · on demo.iris · " in asset["subtitle"], asset
