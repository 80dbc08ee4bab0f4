"""Lineage with no user code, end to end: a real kernel (started by the real Jupyter server) reads
and writes catalog tables on the real Spark Connect server inside MLflow runs; the runs record
them, the REST routes answer from them, and a plain pipeline task process does the same and
posts its OpenLineage events to an HTTP endpoint."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.models import Deployment, ModelRef, Revision
from jupyter_mlplat.deploy.service import DeployService
from tests.support.openlineage import collector

pytestmark = pytest.mark.integration

MODEL = "lineage-iris"
TRAIN = """
import json, mlflow, mlflow.sklearn
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression
mlflow.autolog(disable=True)
with mlflow.start_run() as run:
    frame = {read}
    X, y = frame.drop(columns=["species"]), frame["species"]
    model = LogisticRegression(max_iter=300).fit(X, y)
    info = mlflow.sklearn.log_model(
        model, name="model", registered_model_name={model!r},
        signature=infer_signature(X, model.predict(X)),
    )
print(json.dumps({{"run_id": run.info.run_id, "version": info.registered_model_version}}))
"""


def run_ok(kernel, code, timeout=300):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error and result.error["traceback"])
    return result


def last_json(result):
    return json.loads(next(x for x in reversed(result.stdout.splitlines()) if x.startswith("{")))


def inputs(mlflow_client, run_id):
    """``{(table, context): digest}`` the run recorded."""
    run = mlflow_client.get_run(run_id)
    return {
        (d.dataset.name, next(t.value for t in d.tags if t.key == "mlflow.data.context")): (
            d.dataset.digest
        )
        for d in run.inputs.dataset_inputs
    }


@pytest.fixture
def endpoint():
    with collector() as found:
        yield found


@pytest.fixture(scope="module")
def kernel(lab):
    with lab.kernel(lab.start_session("lineage/train.ipynb")) as connection:
        yield connection


@pytest.fixture(scope="module")
def trained(kernel):
    """Two training runs on demo.iris: one through the DataFrame API, one through SQL."""
    api = last_json(
        run_ok(kernel, TRAIN.format(read='spark.table("demo.iris").toPandas()', model=MODEL))
    )
    sql = last_json(
        run_ok(
            kernel,
            TRAIN.format(read='spark.sql("SELECT * FROM demo.iris").toPandas()', model=MODEL),
        )
    )
    return api, sql


def test_reading_through_the_dataframe_api_and_sql_records_run_inputs(trained, mlflow_client):
    api, sql = trained
    by_api, by_sql = inputs(mlflow_client, api["run_id"]), inputs(mlflow_client, sql["run_id"])
    assert list(by_api) == [("demo.iris", "training")]
    assert list(by_sql) == [("demo.iris", "training")]
    digest = by_api[("demo.iris", "training")]
    assert len(digest) == 16 and by_sql[("demo.iris", "training")] == digest
    # MLflow can answer it: the runs that read demo.iris
    experiment = mlflow_client.get_experiment_by_name("/Users/ada")
    found = mlflow_client.search_runs(
        [experiment.experiment_id], filter_string="datasets.name = 'demo.iris'"
    )
    assert {api["run_id"], sql["run_id"]} <= {r.info.run_id for r in found}


def test_no_run_no_record_and_nothing_recorded_twice(kernel, trained, mlflow_client):
    api, _ = trained
    run_ok(kernel, 'spark.table("demo.iris").count()')  # no active run: nothing to record
    again = run_ok(
        kernel,
        f"import mlflow\nwith mlflow.start_run(run_id={api['run_id']!r}):\n"
        "    for _ in range(3):\n        spark.table('demo.iris').count()",
    )
    assert again.status == "ok"
    assert len(mlflow_client.get_run(api["run_id"]).inputs.dataset_inputs) == 1


def test_save_as_table_and_insert_record_outputs(kernel, mlflow_client):
    result = run_ok(
        kernel,
        "import mlflow\n"
        "with mlflow.start_run() as run:\n"
        "    spark.table('demo.iris').limit(10).write.mode('overwrite')"
        ".saveAsTable('default.lineage_out')\n"
        "    spark.sql('INSERT INTO default.lineage_out SELECT * FROM demo.iris LIMIT 5')\n"
        "print(run.info.run_id)",
    )
    run_id = result.stdout.split()[-1]
    run = mlflow_client.get_run(run_id)
    outputs = [
        d.dataset.digest
        for d in run.inputs.dataset_inputs
        if d.dataset.name == "default.lineage_out"
        and any(t.value == "output" for t in d.tags if t.key == "mlflow.data.context")
    ]
    assert len(outputs) == 2 and outputs[0] != outputs[1]  # the insert changed the files
    assert ("demo.iris", "training") in inputs(mlflow_client, run_id)


def test_the_version_was_trained_on_demo_iris(lab, trained):
    api, _ = trained
    answer = lab.api("GET", f"mlplat/api/lineage/models/{MODEL}/versions/{api['version']}")
    assert answer.status_code == 200, answer.text
    (table,) = answer.json()["trained_on"]
    assert table["table"] == "demo.iris"
    assert table["digest"] == table["current_digest"] and table["stale"] is False
    assert {"name": "species", "type": "string"} in table["schema"]


def test_the_table_is_used_by_both_runs_and_versions(lab, trained):
    answer = lab.api("GET", "mlplat/api/lineage/tables/demo.iris")
    assert answer.status_code == 200, answer.text
    body = answer.json()
    runs = {r["run_id"] for r in body["used_by"]["runs"]}
    assert {trained[0]["run_id"], trained[1]["run_id"]} <= runs
    versions = {(v["model"], v["version"]) for v in body["used_by"]["versions"]}
    assert {(MODEL, trained[0]["version"]), (MODEL, trained[1]["version"])} <= versions
    assert lab.api("GET", "mlplat/api/lineage/tables/not-a-table").status_code == 400


def test_the_impact_lists_a_stale_deployment_after_the_table_is_rewritten(lab, kernel, platform):
    # a table of its own (demo.iris stays as the other tests expect it)
    run_ok(
        kernel,
        "spark.sql('DROP TABLE IF EXISTS default.lineage_iris')\n"
        "spark.sql('CREATE TABLE default.lineage_iris AS SELECT * FROM demo.iris')",
    )
    trained = last_json(
        run_ok(
            kernel,
            TRAIN.format(read='spark.table("default.lineage_iris").toPandas()', model=MODEL),
        )
    )
    # the deployment record the deploy service keeps for the server (no model server started:
    # a local deploy takes a minute; the record is what lineage reads)
    config = MLPlat(env={}, user="ada", state_dir=str(platform.state_dir))
    ref = ModelRef(f"models:/{MODEL}/{trained['version']}", MODEL, trained["version"], "", "")
    record = Deployment("lineage-iris", "ada", "local", Revision(ref), endpoint="http://x/v2")
    record.created = record.updated = time.time()
    DeployService(config)._save(record)

    before = lab.api("GET", "mlplat/api/lineage/tables/default.lineage_iris").json()
    (impact,) = before["impact"]
    assert impact["deployment"] == "lineage-iris" and impact["stale"] is False
    run_ok(kernel, "spark.sql('INSERT INTO default.lineage_iris SELECT * FROM demo.iris LIMIT 1')")
    after = lab.api("GET", "mlplat/api/lineage/tables/default.lineage_iris").json()
    (impact,) = after["impact"]
    assert impact["stale"] is True and impact["version"] == trained["version"]
    assert impact["trained_digest"] == before["digest"] != after["digest"]
    assert after["used_by"]["deployments"][0]["name"] == "lineage-iris"


def test_a_batch_prediction_records_its_output_not_its_staging_table(
    kernel, trained, mlflow_client
):
    api, _ = trained
    result = run_ok(
        kernel,
        "import mlflow\n"
        "from jupyter_mlplat.deploy.batch import predict_table\n"
        "with mlflow.start_run() as run:\n"
        f"    predict_table('models:/{MODEL}/{api['version']}', 'demo.iris',"
        " 'default.lineage_scored', spark=spark, mode='overwrite')\n"
        "print(run.info.run_id)",
    )
    recorded = inputs(mlflow_client, result.stdout.split()[-1])
    assert ("default.lineage_scored", "output") in recorded
    assert ("demo.iris", "training") in recorded
    assert not [name for name, _ in recorded if "staging" in name]


def mlflow_run(event: dict) -> str:
    """The MLflow run an event names (other producers' events carry no such facet)."""
    return ((event["run"].get("facets") or {}).get("mlflow") or {}).get("runId", "")


def test_openlineage_events_are_written_as_json_lines(platform, trained):
    api, _ = trained
    events = [
        json.loads(line)
        for path in (platform.state_dir / "lineage").glob("openlineage-*.jsonl")
        for line in path.read_text().splitlines()
    ]
    mine = [e for e in events if mlflow_run(e) == api["run_id"]]
    assert [e["eventType"] for e in mine] == ["START", "COMPLETE"]
    assert mine[0]["inputs"][0]["name"] == "demo.iris"
    assert mine[0]["job"]["name"].startswith("notebook.")


def test_a_capture_failure_warns_once_and_never_fails_the_action(kernel):
    # the endpoint refuses connections: every event fails to post, the actions go on
    result = run_ok(
        kernel,
        "from jupyter_mlplat.config import MLPlat\n"
        "from jupyter_mlplat.lineage.capture import LineageCapture\n"
        "from jupyter_mlplat.spark.session import SparkSessions\n"
        "import mlflow\n"
        "bad = MLPlat(openlineage_url='http://127.0.0.1:9/refused')\n"
        "capture = LineageCapture(bad)\n"
        "s = SparkSessions(bad, extensions=[capture]).attach()\n"
        "with mlflow.start_run():\n"
        "    rows = [s.table(t).count() for t in ('demo.iris', 'demo.wine')]\n"
        "capture.flush()\n"
        "print(rows)",
    )
    assert result.stdout.strip().splitlines()[-1] == "[150, 178]"
    assert result.stderr.count("lineage capture failed") == 1, result.stderr


def test_a_pipeline_task_records_the_same_way_and_posts_events(
    platform,
    tmp_path,
    endpoint,
    mlflow_client,
):
    url, received = endpoint
    env = {
        **os.environ,
        "MLP_TRACKING_URI": platform.tracking_uri,
        "MLP_SPARK_REMOTE": platform.runtime["spark_remote"],
        "MLP_USER": "ada",
        "MLP_LINEAGE_DIR": str(tmp_path),
        "MLP_OPENLINEAGE_URL": url,
        "AIRFLOW_CTX_DAG_ID": "iris_train",
        "AIRFLOW_CTX_TASK_ID": "read_table",
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    task = (
        "from jupyter_mlplat.pipelines.context import spark, task_run\n"
        "with task_run() as run:\n"
        "    spark.table('demo.iris').count()\n"
        "print(run.info.run_id)"
    )
    done = subprocess.run(
        [sys.executable, "-c", task],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    run_id = done.stdout.split()[-1]
    assert ("demo.iris", "training") in inputs(mlflow_client, run_id)
    assert [e["eventType"] for e in received] == ["START", "COMPLETE"]
    assert received[0]["job"]["name"] == "pipeline.iris_train.read_table"
    parent = received[0]["run"]["facets"]["parent"]["run"]["runId"]
    assert parent.replace("-", "") == run_id
    assert list(tmp_path.glob("openlineage-*.jsonl"))
