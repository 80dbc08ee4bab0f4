"""Evaluation reports on the real platform (MLflow server, Spark Connect, JupyterLab): a report
for a classifier and a regressor with the champion diff, the search (SQLite index of the server,
and a real PostgreSQL) by metric threshold and table, the REST routes, the magics, bad input."""

from __future__ import annotations

import json
import re

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, NotFound
from jupyter_mlplat.reports import record
from jupyter_mlplat.reports.evaluate import digest, evaluate
from jupyter_mlplat.reports.service import ReportsService

pytestmark = pytest.mark.integration

IRIS, DIABETES = "iris_reports", "diabetes_reports"


def register(tracking_uri: str) -> None:
    """Two versions of an iris classifier (v1 weak, the champion; v2 the challenger, whose
    training run logged data-quality results) and of a diabetes regressor (v1 the champion)."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LinearRegression, LogisticRegression, Ridge

    from jupyter_mlplat.spark.demo import TABLES, frame

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    mlflow.set_experiment("/Users/ada/reports")
    iris, _ = frame(TABLES[0])
    diabetes, _ = frame(next(t for t in TABLES if t.name == "diabetes"))
    trained = [
        (IRIS, iris, "species", LogisticRegression(max_iter=1000, C=0.01)),
        (IRIS, iris, "species", LogisticRegression(max_iter=1000, C=1.0)),
        (DIABETES, diabetes, "progression", Ridge(alpha=20.0)),
        (DIABETES, diabetes, "progression", LinearRegression()),
    ]
    for i, (name, data, label, model) in enumerate(trained):
        features = data.drop(columns=[label])
        model.fit(features, data[label])
        with mlflow.start_run(run_name=f"train {name} {i}"):
            if i == 1:
                mlflow.log_metrics({"quality.iris_rows.success_ratio": 1.0,
                                    "quality.iris_rows.failed_count": 0})  # fmt: skip
                mlflow.set_tag("mlplat.quality.iris_rows.status", "passed")
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                signature=infer_signature(features, model.predict(features)),
            )
    for name in (IRIS, DIABETES):
        client.set_registered_model_alias(name, "champion", "1")
        client.set_registered_model_alias(name, "challenger", "2")


@pytest.fixture(scope="module")
def config(platform) -> MLPlat:
    register(platform.tracking_uri)
    return MLPlat(env={}, tracking_uri=platform.tracking_uri, user="ada")


@pytest.fixture(scope="module")
def spark(platform):
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(platform.runtime["spark_remote"]).getOrCreate()
    yield session
    session.stop()


@pytest.fixture(scope="module")
def classifier(config, spark):
    return evaluate(
        f"models:/{IRIS}@challenger", "demo.iris", label="species", spark=spark, config=config
    )


@pytest.fixture(scope="module")
def regressor(config, spark):
    # no label given: the one column the model's signature does not take
    return evaluate(f"models:/{DIABETES}/2", "demo.diabetes", spark=spark, config=config)


def test_a_classifier_report_has_metrics_plots_quality_and_the_champion_diff(
    classifier, spark, mlflow_client
):
    report = classifier.report
    assert report["model"] | {"run_id": ""} == {
        "name": IRIS, "version": "2", "run_id": "", "uri": f"models:/{IRIS}/2"
    }  # fmt: skip
    assert report["model_type"] == "classifier"
    holdout = report["holdout"]
    assert holdout["table"] == "demo.iris" and holdout["rows"] == 150
    assert holdout["label"] == "species"
    assert holdout["digest"] == digest(spark.table("demo.iris").toPandas())
    assert {"accuracy_score", "f1_score", "roc_auc", "log_loss"} <= set(report["metrics"])
    plots = {p["name"]: p for p in report["plots"]}
    assert {"confusion_matrix", "roc_curve_plot"} <= set(plots)
    assert all(p["png_base64"].startswith("iVBOR") for p in plots.values())  # PNG magic
    assert report["quality"] == [
        {"name": "iris_rows", "status": "passed", "success_ratio": 1.0, "failed_count": 0}
    ]
    champion = report["champion"]
    assert champion["version"] == "1" and champion["alias"] == "champion"
    diff = {row["metric"]: row for row in champion["diff"]}
    assert diff["accuracy_score"]["verdict"] == "better"  # C=1 beats C=0.01 on iris
    assert diff["log_loss"]["verdict"] == "better" and diff["log_loss"]["delta"] < 0
    assert "example_count" not in diff  # no better or worse
    # stored in MLflow: the run's artifacts and tags, the version's tag
    run = mlflow_client.get_run(report["id"])
    assert run.data.tags[record.DIGEST_TAG] == holdout["digest"]
    assert json.loads(run.data.tags[record.CHAMPION_TAG])["verdict"] == "better"
    version = mlflow_client.get_model_version(IRIS, "2")
    assert version.tags[record.VERSION_REPORT_TAG] == report["id"]
    assert run.info.experiment_id == mlflow_client.get_run(version.run_id).info.experiment_id
    artifacts = {a.path for a in mlflow_client.list_artifacts(report["id"], "report")}
    assert {record.JSON_ARTIFACT, record.HTML_ARTIFACT} <= artifacts


def test_the_page_is_self_contained(classifier):
    page = classifier.html
    assert "<script" not in page.lower()
    assert not re.search(r"(src|href)=['\"]?(https?:|//)", page)
    assert page.count("data:image/png;base64,") == len(classifier.report["plots"])
    assert "better" in page and "iris_rows" in page and "demo.iris" in page


def test_a_regressor_report_has_residual_plots_and_lower_is_better_verdicts(regressor):
    report = regressor.report
    assert report["model_type"] == "regressor"
    assert report["holdout"]["label"] == "progression"
    assert {"residuals", "predicted_vs_actual"} <= {p["name"] for p in report["plots"]}
    diff = {row["metric"]: row for row in report["champion"]["diff"]}
    # plain least squares fits its training rows better than a heavily regularised ridge
    assert diff["mean_squared_error"]["verdict"] == "better"
    assert diff["r2_score"]["verdict"] == "better"
    assert report["quality"] == []


def test_the_champion_report_on_the_same_digest_is_reused(classifier, config, spark):
    again = evaluate(f"models:/{IRIS}/2", "demo.iris", label="species", spark=spark,
                     config=config)  # fmt: skip
    assert again.report["champion"]["report_id"] == classifier.report["champion"]["report_id"]
    assert again.id != classifier.id
    fewer = evaluate(f"models:/{IRIS}/2", "demo.iris", label="species", spark=spark,
                     config=config, row_cap=120)  # fmt: skip
    assert fewer.report["holdout"]["rows"] == 120
    assert fewer.report["holdout"]["digest"] != classifier.report["holdout"]["digest"]
    assert fewer.report["champion"]["report_id"] != classifier.report["champion"]["report_id"]


def test_no_champion_is_said(config, spark):
    result = evaluate(f"models:/{IRIS}/1", "demo.iris", label="species", spark=spark,
                      config=config)  # fmt: skip
    assert result.report["champion"] is None
    assert "is the @champion itself" in result.report["champion_note"]
    alone = evaluate(f"models:/{IRIS}/2", "demo.iris", label="species", spark=spark,
                     config=config, against="none")  # fmt: skip
    assert alone.report["champion"] is None


def ids(found: dict) -> list[str]:
    return [r["id"] for r in found["reports"]]


def test_rest_search_finds_reports_by_metric_threshold_and_table(lab, classifier, regressor):
    def search(q: str) -> dict:
        response = lab.api("GET", "mlplat/api/reports", params={"q": q, "limit": 100})
        assert response.status_code == 200, response.text
        return response.json()

    found = search("metric.f1_score > 0.9 table:demo.iris")
    assert found["query"] == "metric.f1_score > 0.9 table:demo.iris"
    assert classifier.id in ids(found) and regressor.id not in ids(found)
    entry = next(r for r in found["reports"] if r["id"] == classifier.id)
    assert entry["model"] == IRIS and entry["version"] == "2" and entry["table"] == "demo.iris"
    assert entry["champion"]["version"] == "1" and entry["champion"]["verdict"] == "better"
    assert entry["metrics"]["f1_score"] == pytest.approx(classifier.report["metrics"]["f1_score"])
    assert classifier.id not in ids(search("metric.f1_score > 0.9999"))
    by_table = ids(search("table:demo.diabetes type:regressor"))
    assert regressor.id in by_table and classifier.id not in by_table
    assert regressor.id in ids(search(f"model:{DIABETES} metric.r2_score >= 0.4 progression"))


def test_rest_report_page_and_version_payload(lab, classifier, mlflow_client):
    report = lab.api("GET", f"mlplat/api/reports/{classifier.id}")
    assert report.status_code == 200 and report.json() == json.loads(json.dumps(classifier.report))
    page = lab.api("GET", f"mlplat/api/reports/{classifier.id}/html")
    assert page.status_code == 200 and page.headers["Content-Type"].startswith("text/html")
    policy = page.headers["Content-Security-Policy"]
    assert "default-src 'none'" in policy and "script-src" not in policy
    assert page.text == classifier.html
    version = lab.api("GET", f"mlplat/api/models/{IRIS}/versions/2").json()
    latest = mlflow_client.get_model_version(IRIS, "2").tags[record.VERSION_REPORT_TAG]
    assert version["report"]["id"] == latest  # the version's newest report
    assert version["report"]["metrics"]["f1_score"] > 0.9
    assert lab.api("GET", f"mlplat/api/models/{DIABETES}/versions/1").json()["report"] is not None


def test_search_on_a_real_postgresql_index(config, postgres_url, classifier, regressor):
    service = ReportsService(MLPlat(env={}, tracking_uri=config.tracking_uri,
                                    reports_index_url=postgres_url))  # fmt: skip
    found = service.search("metric.f1_score > 0.9 table:demo.iris")
    assert classifier.id in ids(found) and regressor.id not in ids(found)
    assert regressor.id in ids(service.search("table:demo.diabetes metric.r2_score > 0.4"))
    assert classifier.id in ids(service.search("iris_reports species"))
    assert service.sync() <= 1  # incremental: only the newest report, re-read at the cursor


@pytest.mark.parametrize(
    ("call", "error", "expected"),
    [
        (dict(model_uri=f"models:/{IRIS}@nope"), NotFound, "has no alias 'nope'"),
        (dict(model_uri=f"models:/{IRIS}/99"), NotFound, "has no version 99"),
        (dict(model_uri="models:/nope_model@champion"), NotFound, "'nope_model' has no alias"),
        (dict(data="demo.nope"), NotFound, "table demo.nope does not exist"),
        (dict(data="demo.iris; drop"), InvalidInput, "invalid holdout table"),
        (dict(label="colour"), InvalidInput, "has no column 'colour'"),
        (dict(row_cap=0), InvalidInput, "row cap must be a positive"),
        (dict(against="@bad alias"), InvalidInput, "invalid alias"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_logs_nothing(config, spark, mlflow_client, call, error,
                                                expected):  # fmt: skip
    arguments = {"model_uri": f"models:/{IRIS}/2", "data": "demo.iris", "label": "species"}
    arguments |= call
    before = len(mlflow_client.search_runs(_experiments(mlflow_client)))
    with pytest.raises(error) as raised:
        evaluate(arguments.pop("model_uri"), arguments.pop("data"), spark=spark, config=config,
                 **arguments)  # fmt: skip
    message = str(raised.value)
    assert expected in message and "\n" not in message, message
    assert len(mlflow_client.search_runs(_experiments(mlflow_client))) == before


def _experiments(client) -> list[str]:
    return [e.experiment_id for e in client.search_experiments()]


@pytest.mark.parametrize(
    ("query", "status", "expected"),
    [
        ("metric.f1_score >> 2", 400, "'metric.f1_score>>2'"),
        ("colour:red", 400, "unknown field 'colour'"),
    ],
)
def test_rest_bad_queries_and_ids(lab, query, status, expected):
    response = lab.api("GET", "mlplat/api/reports", params={"q": query})
    assert response.status_code == status and expected in response.json()["message"]


def test_rest_bad_and_unknown_report_ids(lab):
    assert lab.api("GET", "mlplat/api/reports/nope").status_code == 400
    missing = lab.api("GET", f"mlplat/api/reports/{'0' * 32}/html")
    assert missing.status_code == 404 and "no report" in missing.json()["message"]


# -- the magics, in a platform kernel --------------------------------------------------------


@pytest.fixture(scope="module")
def kernel(lab, platform, config):
    (platform.notebook_dir / "reports").mkdir(exist_ok=True)
    with lab.kernel(lab.start_session("reports/evaluate.ipynb")) as connection:
        yield connection


def run_ok(kernel, code, timeout=300):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error and result.error["traceback"])
    return result


def test_evaluate_and_reports_magics(kernel, classifier):
    result = run_ok(
        kernel, f"%mlp evaluate models:/{IRIS}@challenger --table demo.iris --label species"
    )
    html = "".join(result.data("text/html"))
    assert "Open the report" in html and "better" in html and "demo.iris" in html
    link = re.search(r"href='([^']*mlplat/api/reports/([0-9a-f]{32})/html)'", html)
    assert link, html
    run_ok(kernel, "holdout = spark.table('demo.diabetes').toPandas()")
    framed = run_ok(kernel, f"%mlp evaluate models:/{DIABETES}/2 --data holdout --rows 400")
    html = "".join(framed.data("text/html"))
    assert "dataframe:holdout" in html and "400 rows" in html
    found = run_ok(kernel, '%mlp reports "metric.f1_score > 0.9 table:demo.iris"')
    table = "".join(found.data("text/html"))
    assert link[2] in table and IRIS in table and "better than v1" in table
    none = run_ok(kernel, '%mlp reports "metric.f1_score > 2"')
    assert "no reports match" in "".join(none.data("text/html"))


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (f"evaluate models:/{IRIS}@nope --table demo.iris", "has no alias 'nope'"),
        (f"evaluate models:/{IRIS}/2 --table demo.nope", "table demo.nope does not exist"),
        (f"evaluate models:/{IRIS}/2 --table demo.iris --label colour", "no column 'colour'"),
        (f"evaluate models:/{IRIS}/2 --table demo.iris --rows 0", "--rows must be a positive"),
        (f"evaluate models:/{IRIS}/2 --data no_such_frame", "no variable 'no_such_frame'"),
        (f"evaluate models:/{IRIS}/2", "one of the arguments --table --data is required"),
        ('reports "metric.f1 >> 1"', "'metric.f1>>1'"),
    ],
)
def test_magic_bad_input_is_one_line(kernel, line, expected):
    result = kernel.execute(f"%mlp {line}", timeout=300)
    assert result.status == "error", result.stdout
    lines = [ln for ln in result.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("UsageError: %mlp "), result.stderr
    assert expected in lines[0], lines[0]
    assert run_ok(kernel, "1 + 1").value == "2"


def test_a_pipeline_task_evaluates_with_the_configuration_from_the_environment(
    platform, config, mlflow_client
):
    """No kernel: MLP_* variables say where MLflow and Spark are (what a task process has)."""
    import os
    import subprocess
    import sys

    code = (
        "from jupyter_mlplat.reports.evaluate import evaluate\n"
        f"e = evaluate('models:/{IRIS}@challenger', 'demo.iris', label='species')\n"
        "print(e.id, e.report['champion']['verdict'] if e.report['champion'] else None)\n"
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLP_", "MLFLOW_"))}
    env |= {
        "MLP_TRACKING_URI": platform.tracking_uri,
        "MLP_SPARK_MODE": "connect",
        "MLP_SPARK_REMOTE": platform.runtime["spark_remote"],
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    done = subprocess.run(
        [sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=600,
        check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr[-3000:]
    report_id, verdict = done.stdout.split()[-2:]
    assert verdict == "better"
    assert mlflow_client.get_model_version(IRIS, "2").tags[record.VERSION_REPORT_TAG] == report_id
