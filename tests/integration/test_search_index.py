"""The search index against the platform's real MLflow server: a full sync, then incremental
ones that pick up new runs, runs that finish, deleted runs, experiments and versions, and new
aliases; and on the running server, a run logged in a kernel is found by the REST search within
seconds (the server's background sync), and is gone once deleted."""

from __future__ import annotations

import time
import uuid

import pytest

from jupyter_mlplat.search.index import RunQuery, SqliteIndex
from jupyter_mlplat.search.language import compile_query
from jupyter_mlplat.search.sync import IndexSync

pytestmark = pytest.mark.integration


def run_ids(index, text):
    (clause,) = compile_query(text).clauses
    assert clause.runs is not None
    return {h.id for h in index.runs(RunQuery(clause.where.runs, clause.runs.experiments), 100)}


def version_keys(index, text):
    (clause,) = compile_query(text, {"version"}).clauses
    return {(v.name, v.version) for v in index.versions(clause.where.versions, 100)}


def test_sync_follows_mlflow(tmp_path, mlflow_client):
    client = mlflow_client
    suffix = uuid.uuid4().hex[:8]
    experiment = client.create_experiment(f"/Users/ada/index-{suffix}")
    first = client.create_run(experiment, run_name=f"first-{suffix}")
    client.log_metric(first.info.run_id, "rmse", 12.0)
    client.log_param(first.info.run_id, "alpha", "0.5")
    client.set_terminated(first.info.run_id)
    name = f"index-model-{suffix}"
    client.create_registered_model(name)
    for _ in range(2):
        client.create_model_version(name, f"runs:/{first.info.run_id}/model", first.info.run_id)

    index = SqliteIndex(tmp_path / "search.sqlite")
    sync = IndexSync(index, lambda: client, deletions_seconds=0)
    report = sync.run_once()
    assert report.full and index.ready and report.runs >= 1
    assert run_ids(index, f"first-{suffix} metric.rmse < 20 param.alpha >= 0.5") == {
        first.info.run_id
    }
    assert version_keys(index, f"model:{name}") == {(name, 1), (name, 2)}

    # a run that starts (and logs) after the first sync, then finishes
    second = client.create_run(experiment, run_name=f"second-{suffix}")
    client.log_metric(second.info.run_id, "rmse", 5.0)
    report = sync.run_once()
    assert not report.full
    assert run_ids(index, f"experiment:index-{suffix} status:running") == {second.info.run_id}
    client.log_metric(second.info.run_id, "rmse", 50.0)
    client.set_terminated(second.info.run_id, "FAILED")
    sync.run_once()
    assert run_ids(index, f"experiment:index-{suffix} status:failed metric.rmse > 40") == {
        second.info.run_id
    }

    # deletions: a version (its model's update date), a run, then the experiment
    client.delete_model_version(name, "1")
    client.set_registered_model_alias(name, "champion", "2")
    client.delete_run(first.info.run_id)
    sync.run_once()
    assert version_keys(index, f"model:{name}") == {(name, 2)}
    (hit,) = index.versions(compile_query(f"model:{name}").clauses[0].where.versions, 5)
    assert hit.aliases == ["champion"]
    assert run_ids(index, f"experiment:index-{suffix}") == {second.info.run_id}
    client.restore_run(first.info.run_id)
    sync.run_once()
    assert run_ids(index, f"experiment:index-{suffix}") == {
        first.info.run_id,
        second.info.run_id,
    }
    client.delete_experiment(experiment)
    client.delete_registered_model(name)
    sync.run_once()
    assert run_ids(index, f"experiment:index-{suffix}") == set()
    assert version_keys(index, f"model:{name}") == set()
    index.close()


def search_ids(lab, q):
    response = lab.api("GET", "mlplat/api/search", params={"q": q})
    assert response.status_code == 200, response.text
    return {r["id"] for g in response.json()["groups"] for r in g["results"]}


def wait_for(check, timeout=60.0):
    """Seconds until ``check()`` holds (polling); fails after ``timeout``."""
    started = time.monotonic()
    while not check():
        assert time.monotonic() - started < timeout, "the search index never caught up"
        time.sleep(0.2)
    return time.monotonic() - started


def test_a_run_logged_in_a_kernel_is_searchable_within_seconds(lab, mlflow_client):
    name = f"indexed-{uuid.uuid4().hex[:8]}"
    with lab.kernel(lab.start_session("search_index.ipynb")) as kernel:
        result = kernel.execute(
            "import mlflow\n"
            f"with mlflow.start_run(run_name={name!r}) as run:\n"
            "    mlflow.log_param('alpha', '0.25')\n"
            "    mlflow.log_metric('rmse', 12.5)\n"
            "print(run.info.run_id)"
        )
        assert result.status == "ok", result.error
        run_id = result.stdout.strip().splitlines()[-1]
    query = f"{name} param.alpha >= 0.2 metric.rmse < 13 kind:run"
    found_after = wait_for(lambda: run_id in search_ids(lab, query))
    print(f"found {found_after:.1f} s after the cell ended")
    mlflow_client.delete_run(run_id)
    gone_after = wait_for(lambda: run_id not in search_ids(lab, query))
    print(f"gone {gone_after:.1f} s after its deletion")
