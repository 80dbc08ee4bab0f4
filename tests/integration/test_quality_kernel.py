"""``%%mlp check`` in real kernels of the real lab server: pandas, Spark Connect, classic Spark,
results kept in the real MLflow server, and a saved suite run again by a plain Python script."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
PIPELINE = ROOT / "docs" / "examples" / "quality_pipeline.py"

ORDERS = """
import numpy as np, pandas as pd
rng = np.random.default_rng(0)
orders = pd.DataFrame({
    "order_id": np.arange(2000),
    "amount": rng.uniform(0, 500, 2000).round(2),
    "country": rng.choice(["DE", "FR", "PL"], 2000),
})
orders.loc[7, "amount"] = -3.0
orders.loc[11, "country"] = "XX"
orders.to_csv("orders.csv", index=False)
"""
PASSING = "order_id: not_null, unique\ncountry: in [DE, FR, PL, XX]\nrows: between 1000 1e6"
FAILING = "order_id: unique\namount: between 0 10000\ncountry: in [DE, FR, PL]"


@pytest.fixture(scope="module")
def project(platform):
    """A git repository inside the lab's root: suites are saved at its root."""
    repo = platform.notebook_dir / "quality_project"
    (repo / "notebooks").mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(repo)], check=True)
    return repo


@pytest.fixture(scope="module")
def kernel(lab, project):
    with lab.kernel(lab.start_session("quality_project/checks.ipynb")) as connection:
        run_ok(connection, ORDERS)
        yield connection


def run_ok(kernel, code, timeout=300):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error and result.error["traceback"])
    return result


def html(result):
    return "".join(result.data("text/html"))


def outcomes(kernel, name="_"):
    """Per-expectation (expectation, success, observed) of the last (or a named) result."""
    out = run_ok(
        kernel,
        f"import json as _json\nprint(_json.dumps([[e.expectation, e.success, e.observed] "
        f"for e in {name}.expectations]))",
    ).stdout
    return json.loads(out.strip().splitlines()[-1])


def flush(kernel):
    run_ok(kernel, "from jupyter_mlplat import quality as _q\n_q.flush()")


def runs_with_check(mlflow_client, name):
    experiment = mlflow_client.get_experiment_by_name("/Users/ada")
    return mlflow_client.search_runs(
        [experiment.experiment_id],
        filter_string=f"tags.`mlplat.quality.{name}.status` LIKE '%'",
        order_by=["attributes.start_time DESC"],
    )


def test_pandas_check_passes_and_is_kept_in_its_own_run(kernel, mlflow_client):
    result = run_ok(kernel, f"%%mlp check orders --name orders_ok\n{PASSING}")
    page = html(result)
    assert "PASSED" in page and page.count("mlplat-check-pass") == 4
    flush(kernel)
    run = runs_with_check(mlflow_client, "orders_ok")[0]
    assert run.data.metrics["quality.orders_ok.success_ratio"] == 1.0
    assert run.data.metrics["quality.orders_ok.failed_count"] == 0.0
    assert run.data.tags["mlplat.quality.orders_ok.status"] == "passed"
    assert run.data.tags["mlplat.kind"] == "quality-check"
    assert run.data.tags["mlplat.quality.datasets"] == "orders"
    assert run.info.run_name == "check orders_ok"
    assert run.info.status == "FINISHED"
    artifacts = {a.path for a in mlflow_client.list_artifacts(run.info.run_id, "quality/orders_ok")}
    assert artifacts == {"quality/orders_ok/result.json", "quality/orders_ok/report.html"}


def test_pandas_failure_shows_observed_values_and_failing_rows(kernel):
    result = run_ok(kernel, f"%%mlp check orders --no-log\n{FAILING}")
    page = html(result)
    assert "FAILED" in page and page.count("mlplat-check-fail") == 2
    assert "1 of 2000 rows fail" in page  # the observed value of both failures
    rows = outcomes(kernel)
    assert rows[0][:2] == ["order_id: unique", True]
    assert rows[1][:2] == ["amount: between 0 10000", False]
    examples = run_ok(kernel, "print(_.expectations[1].examples, _.expectations[2].examples)")
    assert "'amount': -3.0" in examples.stdout and "'country': 'XX'" in examples.stdout


def test_a_check_in_an_active_training_run_logs_to_that_run(kernel, mlflow_client):
    run_ok(kernel, "import mlflow\ntraining = mlflow.start_run(run_name='train')")
    run_ok(kernel, f"%%mlp check orders --name orders_bad\n{FAILING}")
    run_ok(kernel, f"%%mlp check orders --name orders_ok\n{PASSING}")
    flush(kernel)
    run_id = run_ok(kernel, "print(training.info.run_id)\nmlflow.end_run()").stdout.split()[0]
    run = mlflow_client.get_run(run_id)
    metrics, tags = run.data.metrics, run.data.tags
    assert metrics["quality.orders_bad.success_ratio"] == pytest.approx(1 / 3)
    assert metrics["quality.orders_bad.failed_count"] == 2.0
    assert metrics["quality.orders_ok.success_ratio"] == 1.0
    assert tags["mlplat.quality.orders_bad.status"] == "failed"
    assert tags["mlplat.quality.orders_ok.status"] == "passed"
    assert tags["mlplat.quality.checks"] == "orders_bad,orders_ok"
    assert tags["mlplat.quality.datasets"] == "orders"
    assert "mlplat.kind" not in tags
    stored = mlflow_client.download_artifacts(run_id, "quality/orders_bad/result.json")
    kept = json.loads(Path(stored).read_text())
    assert kept["failed"] == 2 and kept["expectations"][1]["examples"][0]["amount"] == -3.0
    report = Path(mlflow_client.download_artifacts(run_id, "quality/orders_bad/report.html"))
    assert "mlplat-check-fail" in report.read_text()


def test_mlp_checks_lists_and_filters_results(kernel):
    run_ok(kernel, f"%%mlp check orders --name orders_bad\n{FAILING}")
    failed = html(run_ok(kernel, "%mlp checks --dataset orders --status failed"))
    assert "orders_bad" in failed and "orders_ok" not in failed
    assert "mlplat/mlflow/#/experiments/" in failed
    passed = html(run_ok(kernel, "%mlp checks --status passed --limit 1"))
    assert passed.count("<tr>") == 2  # header + one row
    assert "orders_ok" in passed
    none = run_ok(kernel, "%mlp checks --dataset nothing_like_this")
    assert "no data-quality results found" in html(none)


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%mlp check orders\namount: sometimes", "unknown check 'sometimes'. Supported: "),
        ("%%mlp check orders\namout: not_null", "unknown column 'amout'"),
        ("%%mlp check orders\namount: between low high", "expected a number, got 'low'"),
        ("%%mlp check nothing\namount: not_null", "no variable 'nothing'"),
        ("%%mlp check ORDERS_CSV\namount: not_null", "not a pandas, Spark or Spark Connect"),
        ("%mlp check orders --suite nope", "no saved suite 'nope'"),
        ("%mlp check orders", "without a cell body needs --suite"),
        ("%%mlp check orders --fail\ncountry: in [DE]", "--fail: check 'orders' on orders failed"),
    ],
)
def test_errors_are_one_line_and_the_kernel_lives_on(kernel, cell, message):
    run_ok(kernel, "ORDERS_CSV = 'orders.csv'")
    result = kernel.execute(cell)
    assert result.status == "error"
    reply = next(m["content"] for m in result.messages if m["msg_type"] == "execute_reply")
    assert reply["ename"] == "UsageError"
    assert message in reply["evalue"]
    assert "\n" not in reply["evalue"]
    assert result.stderr.strip().startswith("UsageError: ")  # what the user sees: one line
    assert "Traceback" not in result.stderr
    assert run_ok(kernel, "1 + 1").value == "2"


def test_fail_shows_the_report_before_stopping(kernel):
    result = kernel.execute("%%mlp check orders --fail --no-log\ncountry: in [DE]")
    assert result.status == "error"
    assert "mlplat-check-fail" in html(result)


def test_a_saved_suite_runs_unchanged_in_a_plain_python_pipeline(kernel, project, platform):
    saved = run_ok(kernel, f"%%mlp check orders --save orders --no-log\n{FAILING}")
    assert f"saved suite 'orders' to {project / 'quality' / 'suites' / 'orders.txt'}" in (
        saved.stdout
    )
    in_kernel = outcomes(kernel)
    again = run_ok(kernel, "%%mlp check orders --no-log\nsuite: orders")
    assert "FAILED" in html(again)
    env = {
        **os.environ,
        "MLP_TRACKING_URI": platform.tracking_uri,
        "MLP_USER": "ada",
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "GX_ANALYTICS_ENABLED": "false",
    }
    env.pop("MLP_QUALITY_SUITES_DIR", None)
    script = subprocess.run(
        [sys.executable, str(PIPELINE), str(project / "orders.csv"), "--suite", "orders", "--fail"],
        cwd=project / "notebooks",  # suites are found at the project's root
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert script.returncode == 1, script.stderr
    assert "quality gate: check 'orders' on orders failed: 2 of 3" in script.stderr
    # MLflow prints run links around it (the run is logged in the background)
    from_script, _ = json.JSONDecoder().raw_decode(script.stdout[script.stdout.index("{") :])
    assert [
        [e["expectation"], e["success"], e["observed"]] for e in from_script["expectations"]
    ] == (in_kernel)


def test_pipeline_results_are_logged_and_findable(kernel, mlflow_client):
    run = runs_with_check(mlflow_client, "orders")[0]  # the script's run, kept at exit
    assert run.data.tags["mlplat.quality.orders.suite"] == "orders"
    assert run.data.tags["mlplat.quality.suites"] == "orders"
    assert run.data.tags["mlplat.quality.orders.status"] == "failed"
    page = html(run_ok(kernel, "%mlp checks --suite orders"))
    assert run.info.run_id in page


def test_spark_connect_frames_pass_and_fail(kernel, mlflow_client):
    run_ok(kernel, "iris = spark.table('demo.iris')")
    passing = run_ok(
        kernel,
        "%%mlp check iris --name iris_ok\n"
        "species: not_null, in [setosa, versicolor, virginica]\n"
        "sepal_length_cm: between 0 100, mean between 5 7\nrows: = 150",
    )
    assert "PASSED" in html(passing) and "spark-connect" in html(passing)
    failing = run_ok(kernel, "%%mlp check iris --name iris_bad\npetal_width_cm: between 0 1")
    page = html(failing)
    assert "FAILED" in page and "mlplat-check-fail" in page
    assert "rows fail" in page and "species" in page  # observed count, failing example rows
    flush(kernel)
    run = runs_with_check(mlflow_client, "iris_bad")[0]
    assert run.data.metrics["quality.iris_bad.failed_count"] == 1.0
    assert run.data.tags["mlplat.quality.iris_bad.status"] == "failed"


@pytest.fixture(scope="module")
def classic_kernel(lab, project):
    """A kernel with a classic local Spark session next to the platform's Connect ``spark``."""
    with lab.kernel(lab.start_session("quality_project/classic.ipynb")) as connection:
        run_ok(
            connection,
            # kernels get SPARK_REMOTE (the platform's Spark): a classic session opts out of it
            "import os\nos.environ.pop('SPARK_REMOTE', None)\n"
            "from pyspark.sql import SparkSession\n"
            "classic = (SparkSession.builder.master('local[1]')"
            ".config('spark.ui.enabled', 'false')"
            ".config('spark.driver.bindAddress', '127.0.0.1')"
            ".config('spark.driver.host', '127.0.0.1').getOrCreate())\n"
            "events = classic.range(0, 1000).selectExpr('id', 'id % 10 as level', "
            "\"case when id = 3 then null else concat('u', id) end as user\")",
            timeout=300,
        )
        yield connection
        connection.execute("classic.stop()")


def test_classic_spark_frames_pass_and_fail(classic_kernel):
    passing = run_ok(
        classic_kernel,
        "%%mlp check events --no-log\nid: unique, not_null\nlevel: between 0 9\nrows: = 1000",
    )
    assert "PASSED" in html(passing)
    assert "<code>events</code> · 4/4 passed · spark ·" in html(passing)
    failing = run_ok(classic_kernel, "%%mlp check events --no-log\nuser: not_null\nlevel: in [0]")
    page = html(failing)
    assert "FAILED" in page and page.count("mlplat-check-fail") == 2
    assert "1 of 1000 rows fail" in page and "900 of 1000 rows fail" in page
    # the platform's Connect session still works in the same kernel
    assert run_ok(classic_kernel, "spark.table('demo.iris').count()").value == "150"


def test_great_expectations_is_warmed_only_for_notebooks_that_check(lab, project):
    notebook = {
        "cells": [{"cell_type": "code", "metadata": {}, "outputs": [], "source": "%%mlp check df"}],
        "metadata": {},
        "nbformat": 4,
        "nbformat_minor": 5,
    }
    (project / "warm.ipynb").write_text(json.dumps(notebook))
    imported = "import sys\nprint('great_expectations' in sys.modules)"
    waited = "import time\ntime.sleep(1)\n" + imported
    with lab.kernel(lab.start_session("quality_project/warm.ipynb")) as connection:
        assert run_ok(connection, imported).stdout.strip() == "False"  # not at kernel start
        for _ in range(120):  # the warm-up runs in the background after the first cell
            if run_ok(connection, waited).stdout.strip() == "True":
                break
        else:
            raise AssertionError("great_expectations was not warmed")
    with lab.kernel(lab.start_session("quality_project/plain.ipynb")) as connection:
        run_ok(connection, "x = 1")
        for _ in range(5):
            assert run_ok(connection, waited).stdout.strip() == "False"
