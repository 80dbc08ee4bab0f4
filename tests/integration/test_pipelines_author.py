"""Pipelines written from a notebook and run with Airflow's own local runner (``dag.test()``) on
the real platform: the classification template on demo.iris end to end (quality gate, a version
registered as @champion), a corrupted copy of the table stopped at the gate with the registry
untouched, the regression template, %%mlp pipeline cells imported by Airflow, bad input as one
line."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.conftest import start_platform, stop_platform

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1800)]

RUN_TIMEOUT = 900


@pytest.fixture(scope="module")
def project(tmp_path_factory):
    """Pipelines and suites folders of the test project, and the Airflow home of its runs
    (under XDG_DATA_HOME): set before this module's platform starts, so its kernels inherit."""
    base = tmp_path_factory.mktemp("pipelines-project")
    values = {
        "MLP_PIPELINES_DIR": str(base / "pipelines"),
        "MLP_QUALITY_SUITES_DIR": str(base / "suites"),
        "XDG_DATA_HOME": str(base / "data"),
    }
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    yield base
    for key, value in saved.items():
        if value is None:
            os.environ.pop(key, None)
        else:
            os.environ[key] = value


@pytest.fixture(scope="module")
def platform(project, tmp_path_factory):
    """A platform of this module's own (the session's would start before the settings)."""
    base = tmp_path_factory.mktemp("platform-pipelines")
    running = start_platform(base, base / "state")
    yield running
    stop_platform(running)


@pytest.fixture(scope="module")
def lab(platform):
    return platform.lab


@pytest.fixture(scope="module")
def mlflow_client(platform):
    from mlflow import MlflowClient

    return MlflowClient(platform.tracking_uri)


@pytest.fixture(scope="module")
def kernel(lab, platform):
    (platform.notebook_dir / "pipelines").mkdir(exist_ok=True)
    with lab.kernel(lab.start_session("pipelines/author.ipynb")) as connection:
        yield connection


def run_ok(kernel, code, timeout=RUN_TIMEOUT):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error and result.error["traceback"])
    return result


def one_line_error(kernel, code, timeout=RUN_TIMEOUT) -> str:
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "error", result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("UsageError: %"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def run_table(result) -> str:
    """The last state of the live per-task table."""
    html = [
        m["content"]["data"]["text/html"]
        for m in result.messages
        if "mlplat-pipeline-run" in m["content"].get("data", {}).get("text/html", "")
    ]
    assert len(html) >= 3, "the run table was not updated while the run went on"
    return html[-1]


def task_states(html: str) -> dict[str, str]:
    rows = re.findall(r"<tr><td>(\w+)</td><td><span[^>]*></span>(\w+)</td>", html)
    return dict(rows)


def versions(client, name):
    return sorted(int(v.version) for v in client.search_model_versions(f"name='{name}'"))


def test_classification_template_runs_end_to_end(kernel, project, mlflow_client):
    new = run_ok(
        kernel, "%mlp pipeline new --template classification --table demo.iris --label species"
    )
    assert "iris_classification" in "".join(new.data("text/html"))
    folder = project / "pipelines"
    assert (folder / "iris_classification.py").is_file()
    config = (folder / "iris_classification.yaml").read_text()
    assert '"species"' in config and "LogisticRegression" in config
    suite = (project / "suites" / "iris_classification.txt").read_text()
    assert "species: not_null, in [setosa, versicolor, virginica]" in suite

    result = run_ok(kernel, "%mlp pipeline run iris_classification")
    html = run_table(result)
    assert 'data-state="success"' in html
    states = task_states(html)
    assert states == {
        "read_table": "success",
        "quality_gate": "success",
        "preprocess": "success",
        "train": "success",
        "evaluate": "success",
        "register": "success",
        "batch_score": "skipped",  # the generated config names no output table
    }, html
    champion = mlflow_client.get_model_version_by_alias("iris_classification", "champion")
    challenger = mlflow_client.get_model_version_by_alias("iris_classification", "challenger")
    assert champion.version == challenger.version == "1"
    assert champion.tags["mlplat.pipeline.dag_id"] == "iris_classification"
    assert float(champion.tags["mlplat.pipeline.accuracy"]) > 0.8
    # the register step attached an evaluation report (no champion yet to diff against)
    report_run = mlflow_client.get_run(champion.tags["mlplat.report.run_id"])
    assert report_run.data.tags["mlplat.report.table"] == "dataframe:demo.iris"  # its holdout rows
    assert report_run.data.metrics["accuracy_score"] > 0.8
    # the Airflow listener tracked the run: the version's run is the train task's child run
    # of the DAG run's parent run (pipelines/listener.py), tagged with Airflow's ids
    child = mlflow_client.get_run(champion.run_id)
    tags = child.data.tags
    assert tags["mlplat.pipeline.kind"] == "task" and tags["mlplat.pipeline.task_id"] == "train"
    assert tags["mlplat.pipeline.try_number"] == "1" and tags["mlplat.pipeline.run_id"]
    parent = mlflow_client.get_run(tags["mlflow.parentRunId"])
    assert parent.data.tags["mlplat.pipeline.kind"] == "dag_run"
    assert parent.data.tags["mlplat.pipeline.dag_id"] == "iris_classification"
    assert parent.data.tags["mlplat.pipeline.run_id"] == tags["mlplat.pipeline.run_id"]
    siblings = mlflow_client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{parent.info.run_id}'",
    )
    assert {r.data.tags["mlplat.pipeline.task_id"] for r in siblings} >= set(states) - {
        "batch_score"
    }
    # what the Models panel shows for the version: the pipeline run that produced it
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.deploy.registry import Registry

    registry = Registry(MLPlat(env={"MLP_TRACKING_URI": mlflow_client.tracking_uri}))
    produced_by = registry.version("iris_classification", champion.version)["run"]["pipeline"]
    assert produced_by == {
        "dag_id": "iris_classification",
        "run_id": tags["mlplat.pipeline.run_id"],
        "task_id": "train",
        "try_number": "1",
    }


def test_corrupted_table_fails_at_the_gate_and_changes_nothing(kernel, project, mlflow_client):
    run_ok(
        kernel,
        "from pyspark.sql import functions as F\n"
        "bad = spark.table('demo.iris').withColumn('species', F.when(F.col('sepal_length_cm') > 7,"
        " F.lit('unknown')).otherwise(F.col('species')))\n"
        "bad.write.mode('overwrite').saveAsTable('demo.iris_corrupt')",
    )
    config = project / "pipelines" / "iris_classification.yaml"
    text = config.read_text()
    config.write_text(text.replace('table: "demo.iris"', 'table: "demo.iris_corrupt"'))
    before = versions(mlflow_client, "iris_classification")

    line = one_line_error(kernel, "%mlp pipeline run iris_classification")
    assert "failed" in line and "quality_gate" in line and "species" in line, line
    assert versions(mlflow_client, "iris_classification") == before == [1]
    for alias in ("champion", "challenger"):
        version = mlflow_client.get_model_version_by_alias("iris_classification", alias)
        assert version.version == "1"


def test_regression_template_runs_with_tuning(kernel, project, mlflow_client):
    run_ok(
        kernel,
        "%mlp pipeline new --template regression --table demo.diabetes --label progression",
    )
    config = project / "pipelines" / "diabetes_regression.yaml"
    text = config.read_text()
    assert "tuning:\n  trials: 0" in text and '"alpha": [0.001, 100.0, "log"]' in text
    config.write_text(text.replace("tuning:\n  trials: 0", "tuning:\n  trials: 6"))
    result = run_ok(kernel, "%mlp pipeline run diabetes_regression")
    assert task_states(run_table(result))["register"] == "success"
    champion = mlflow_client.get_model_version_by_alias("diabetes_regression", "champion")
    assert champion.version == "1"
    assert float(champion.tags["mlplat.pipeline.rmse"]) < 100
    # the train step tuned alpha first: one study run with a child run per trial, and the
    # model trained with the best trial's alpha
    trained = mlflow_client.get_run(champion.run_id)
    study = mlflow_client.get_run(trained.data.tags["mlplat.pipeline.tuning_run_id"])
    trials = mlflow_client.search_runs(
        [study.info.experiment_id],
        filter_string=f"tags.`mlflow.parentRunId` = '{study.info.run_id}'",
    )
    assert len(trials) == 6
    best = int(trained.data.tags["mlplat.pipeline.tuning_best_trial"])
    best_alpha = {
        int(r.data.tags.get("mlplat.tuning.trial", -1)): r.data.params["alpha"] for r in trials
    }
    assert float(trained.data.params["model.alpha"]) == pytest.approx(float(best_alpha[best]))
    # and the register step attached a regressor's evaluation report
    report_run = mlflow_client.get_run(champion.tags["mlplat.report.run_id"])
    assert report_run.data.tags["mlplat.report.model_type"] == "regressor"


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        ("new --template clustering --table demo.iris --label species", "unknown template"),
        ("new --template classification --table demo.nope --label species", "does not exist"),
        ("new --template classification --table demo.iris --label colour", "no column 'colour'"),
        ("new --template regression --table demo.iris --label species", "numeric label"),
        ("new --template classification --table demo.iris", "needs --label"),
        ("new --template classification --table demo.iris --label species", "exists"),
        ("run no_such_pipeline", "no pipeline 'no_such_pipeline'"),
        ("launch x", "unknown subcommand"),
    ],
)
def test_bad_input_is_one_line(kernel, project, command, expected):
    before = sorted(p.name for p in (project / "pipelines").glob("*"))
    line = one_line_error(kernel, f"%mlp pipeline {command}")
    assert expected in line, line
    assert sorted(p.name for p in (project / "pipelines").glob("*")) == before


CELL = """%%mlp pipeline iris_rows --schedule @daily
import mlflow

@task
def count_rows() -> int:
    return spark.table("demo.iris").count()

@task
def record(rows: int) -> str:
    with mlflow.start_run():
        mlflow.log_metric("rows", rows)
    return "demo.iris"

record(count_rows())
"""


def test_cell_becomes_a_dag_file_airflow_imports_and_runs(kernel, project):
    result = run_ok(kernel, CELL)
    path = project / "pipelines" / "iris_rows.py"
    assert str(path) in "".join(result.data("text/html"))
    text = path.read_text()
    assert 'schedule="@daily"' in text and '"owner": "ada"' in text and '"owner:ada"' in text
    ran = run_ok(kernel, "%mlp pipeline run iris_rows")
    assert task_states(run_table(ran)) == {"count_rows": "success", "record": "success"}


def test_broken_cell_gives_airflows_import_error_as_one_line(kernel, project):
    line = one_line_error(
        kernel,
        "%%mlp pipeline broken_cell\n@task\ndef step():\n    return 1\n\nstep(undefined_name)\n",
    )
    path = Path(project / "pipelines" / "broken_cell.py")
    assert f"{path}:" in line and "(cell line 5)" in line, line
    assert "NameError: name 'undefined_name' is not defined" in line
    assert not path.exists()  # nothing half-applied
