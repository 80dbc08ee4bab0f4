"""Batch predictions in a platform kernel: train + register a model, score a catalog table on
the local Spark Connect server, check the output table; bad input gives one line."""

from __future__ import annotations

import ast

import pytest

pytestmark = pytest.mark.integration

TRAIN = """
import mlflow
from mlflow.models import infer_signature
from sklearn.linear_model import LogisticRegression

iris = spark.table("demo.iris").toPandas()
features, labels = iris.drop(columns=["species"]), iris["species"]
model = LogisticRegression(max_iter=1000).fit(features, labels)
with mlflow.start_run(run_name="iris-batch"):
    info = mlflow.sklearn.log_model(
        model, name="model", registered_model_name="iris_batch",
        signature=infer_signature(features, model.predict(features)),
    )
mlflow.MlflowClient().set_registered_model_alias(
    "iris_batch", "champion", info.registered_model_version
)
print(info.registered_model_version)
"""


@pytest.fixture(scope="module")
def kernel(lab, platform):
    (platform.notebook_dir / "batch").mkdir(exist_ok=True)
    with lab.kernel(lab.start_session("batch/score.ipynb")) as connection:
        run_ok(connection, TRAIN, timeout=300)
        yield connection


def run_ok(kernel, code, timeout=300):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error and result.error["traceback"])
    return result


def one_line_error(kernel, code) -> str:
    result = kernel.execute(code, timeout=300)
    assert result.status == "error", result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("UsageError: %mlp predict"), result.stderr
    assert "Traceback" not in result.stderr
    return lines[0]


def test_predict_writes_the_output_table_with_one_prediction_per_row(kernel):
    result = run_ok(
        kernel,
        "%mlp predict models:/iris_batch@champion --table demo.iris --output demo.iris_scored",
    )
    html = "".join(result.data("text/html"))
    assert "Batch prediction" in html and "demo.iris_scored" in html and "rows/s" in html
    assert "models:/iris_batch/1" in html  # the alias was pinned to the version it named
    steps = [
        m for m in result.messages
        if "mlplat-predict-step" in m["content"].get("data", {}).get("text/html", "")
    ]  # fmt: skip
    assert steps and "done" in steps[-1]["content"]["data"]["text/html"]
    assert any(
        "mlplat-spark-progress" in m["content"].get("data", {}).get("text/html", "")
        for m in result.messages
    )  # Spark's own progress bar while the model scores

    counts = run_ok(
        kernel,
        "(spark.table('demo.iris').count(), spark.table('demo.iris_scored').count(),"
        " spark.table('demo.iris_scored').where('prediction = species').count())",
    ).value
    total, scored, right = ast.literal_eval(counts or "")
    assert scored == total == 150
    assert right >= 140  # a logistic regression on iris is right ~97 % of the time
    tables = run_ok(kernel, "[t.name for t in spark.catalog.listTables('demo')]").value
    assert "staging" not in tables  # the staging table was renamed into place


def test_the_python_api_overwrites_when_asked(kernel):
    code = (
        "from jupyter_mlplat.deploy.batch import predict_table\n"
        "r = predict_table('models:/iris_batch/1', 'demo.iris', 'demo.iris_scored',"
        " spark=spark, mode='overwrite', prediction_column='label')\n"
        "print(r.rows, r.output, r.model, r.rows_per_second > 0,"
        " 'label' in spark.table('demo.iris_scored').columns)"
    )
    assert run_ok(kernel, code).stdout.split() == [
        "150",
        "demo.iris_scored",
        "models:/iris_batch/1",
        "True",
        "True",
    ]


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        ("models:/iris_batch@champion --table demo.nope --output demo.x",
         "table demo.nope does not exist"),
        ("models:/iris_batch@champion --table 'demo.iris; drop' --output demo.x",
         "invalid input table name"),
        ("models:/iris_batch@champion --table demo.iris --output demo.wine",
         "table demo.wine already exists"),
        ("models:/iris_batch --table demo.iris --output demo.x", "invalid model URI"),
        ("models:/nope@champion --table demo.iris --output demo.x",
         "registered model 'nope' has no alias 'champion'"),
        ("models:/iris_batch@champion --table demo.wine --output demo.x",
         "demo.wine lacks the model's input column(s) sepal_length_cm"),
        ("models:/iris_batch@champion --output demo.x", "the following arguments are required"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line_and_nothing_is_written(kernel, line, expected):
    message = one_line_error(kernel, f"%mlp predict {line}")
    assert expected in message, message
    tables = run_ok(kernel, "sorted(t.name for t in spark.catalog.listTables('demo'))").value
    assert "'x'" not in tables and "staging" not in tables
    assert run_ok(kernel, "1 + 1").value == "2"
