"""Batch predictions on Spark (``predict_table``) ÷ the same work in one process.

Both are measured in the same run, on the same generated table (N rows of iris-like features)
and the same registered model version (a scikit-learn logistic regression with a signature):

* platform: ``predict_table`` scores the table in Spark's Python workers and writes a new table
  (resolve the version + read + score + write + row-count check + rename into place);
* baseline: the table read into pandas in this process, the model loaded (``pyfunc``) and its
  ``predict`` run on it, the result (input columns + prediction) written back as a table.

Each round runs ``predict_table`` twice, then the baseline. The first job of a round starts
new Python workers: in the first round Spark starts its worker daemon too (the platform's
imports pandas, pyarrow, MLflow and scikit-learn once, while ``predict_table`` resolves the
model and plans the job); before each later round the benchmark
waits until Spark has stopped the idle workers (after a minute), so the first job forks new
ones and loads the model again. The second job reuses them (loaded model, no download).

Prints seconds and rows/s per job and the ratios to the baseline (> 1: Spark is faster), and
CPU seconds per phase, which do not depend on the machine's load: the baseline's read, load,
predict and write in this process; for a Spark job, summed over its tasks, the workers' start,
imports, download, model load and predict (and the worker daemon's imports, paid once when
Spark starts its Python workers). Checks that both wrote the same predictions; asserts nothing
else. Starts its own MLflow + Spark Connect servers under a temporary directory (phases are
only measured then), or uses a running platform:

    .venv/bin/python benchmarks/batch_predict.py [-n 1000000] [-r 2] [--idle 75] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import itertools
import json
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from jupyter_mlplat.deploy.batch_worker import PHASES_ENV  # the workers' CPU per phase

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
SPARK_MEMORY = os.environ.get("MLP_LOCAL_SPARK_MEMORY", "1g")

FEATURES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
TABLE, OUTPUT, MODEL = "bench.iris_rows", "bench.iris_rows_scored", "iris_bench"
BASELINE_OUTPUT = "bench.iris_rows_scored_baseline"


def servers(stack: ExitStack, state_dir: str) -> tuple[str, str]:
    """``(tracking_uri, spark_remote)`` of a running platform, or of servers started here."""
    if state_dir:
        runtime = json.loads((Path(state_dir) / "platform.json").read_text())
        return runtime["tracking_uri"], runtime["spark_remote"]
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.platform.local import LocalPlatform

    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlplat-bench-")))
    os.environ[PHASES_ENV] = str(root / "phases.jsonl")  # inherited by Spark's Python workers
    # the baseline sends its 1M scored rows back through Spark Connect as one local relation,
    # which the platform's idle-sized heap (512 MB) cannot hold: 1 GB for both sides
    env = {"MLP_STATE_DIR": str(root), "MLP_LOCAL_SPARK_MEMORY": SPARK_MEMORY}
    platform = LocalPlatform(MLPlat(env=env), root, spark=True)
    services = [platform.mlflow_service(), platform.spark_service()]
    for service in services:
        service.start()
        stack.callback(service.stop)
    for service in services:
        service.wait_ready(180)
    return platform.tracking_uri, platform.spark_remote


def register_model(tracking_uri: str) -> str:
    """Train on sklearn's iris, log with a signature, register; the model's URI."""
    import mlflow
    from mlflow.models import infer_signature
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlplat.spark.demo import column_name

    mlflow.set_tracking_uri(tracking_uri)
    iris = load_iris(as_frame=True)
    features = iris.data.rename(columns=column_name)
    model = LogisticRegression(max_iter=1000).fit(features, iris.target)
    mlflow.set_experiment("benchmarks")
    with mlflow.start_run(run_name="batch-predict"):
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            registered_model_name=MODEL,
            signature=infer_signature(features, model.predict(features)),
        )
    return f"models:/{MODEL}/{info.registered_model_version}"


def make_table(spark: object, rows: int) -> None:
    """N rows of random iris-like features (a plain parquet table)."""
    spark.sql("CREATE DATABASE IF NOT EXISTS bench")  # type: ignore[attr-defined]
    spark.range(rows).selectExpr(  # type: ignore[attr-defined]
        "id",
        "4.3 + rand(1) * 3.6 as sepal_length_cm",
        "2.0 + rand(2) * 2.4 as sepal_width_cm",
        "1.0 + rand(3) * 5.9 as petal_length_cm",
        "0.1 + rand(4) * 2.4 as petal_width_cm",
    ).write.mode("overwrite").saveAsTable(TABLE)


def baseline(spark: object, model_uri: str) -> tuple[int, float, dict[str, float]]:
    """Read + load + predict + write back in this process: ``(rows, seconds, phases)``, the
    phases in CPU seconds of this process."""
    import mlflow

    started = time.perf_counter()
    cpu = [time.process_time()]
    frame = spark.table(TABLE).toPandas()  # type: ignore[attr-defined]
    cpu.append(time.process_time())
    model = mlflow.pyfunc.load_model(model_uri)
    cpu.append(time.process_time())
    frame["prediction"] = model.predict(frame[FEATURES])
    cpu.append(time.process_time())
    scored = spark.createDataFrame(frame)  # type: ignore[attr-defined]
    scored.write.mode("overwrite").saveAsTable(BASELINE_OUTPUT)
    cpu.append(time.process_time())
    phases = dict(zip(("read", "load", "predict", "write"), _steps(cpu), strict=True))
    return len(frame), time.perf_counter() - started, phases


def _steps(marks: list[float]) -> list[float]:
    return [after - before for before, after in itertools.pairwise(marks)]


def worker_phases() -> str:
    """What Spark's Python workers reported since the last call, summed over tasks."""
    path = os.environ.get(PHASES_ENV)
    if not path or not Path(path).exists():
        return "(not measured: a running platform's workers)"
    lines = [json.loads(line) for line in Path(path).read_text().splitlines() if line]
    Path(path).write_text("")
    tasks = [line for line in lines if "daemon" not in line]
    total: dict[str, Any] = {}
    for name in ("start", "import", "download", "load", "predict"):
        total[name] = sum(task.get(name, 0.0) for task in tasks)
    daemon = sum(line["import_cpu"] for line in lines if "daemon" in line)
    text = ", ".join(f"{name} {value:.2f}" for name, value in total.items())
    workers = len({task["pid"] for task in tasks})
    return f"{text} (CPU s; {len(tasks)} tasks in {workers} workers); daemon import {daemon:.2f}"


def differences(spark: Any) -> int:
    """Rows whose prediction differs between the Spark job's output and the baseline's."""
    query = (
        f"SELECT count(*) FROM {OUTPUT} a JOIN {BASELINE_OUTPUT} b USING (id) "
        "WHERE a.prediction <> b.prediction"
    )
    return int(spark.sql(query).collect()[0][0])


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("-n", "--rows", type=int, default=1_000_000)
    args.add_argument("-r", "--rounds", type=int, default=2)
    args.add_argument("--state-dir", default="", help="use the platform running there")
    args.add_argument(
        "--idle", type=float, default=75, help="seconds to wait before a later round's first job"
    )
    options = args.parse_args()

    with ExitStack() as stack:
        tracking_uri, remote = servers(stack, options.state_dir)
        from pyspark.sql import SparkSession

        from jupyter_mlplat.config import MLPlat
        from jupyter_mlplat.deploy.batch import predict_table

        spark = SparkSession.builder.remote(remote).getOrCreate()
        stack.callback(spark.stop)
        model_uri = register_model(tracking_uri)
        make_table(spark, options.rows)
        config = MLPlat(env={"MLP_TRACKING_URI": tracking_uri})
        print(f"rows: {options.rows:,} ({model_uri})", flush=True)

        worker_phases()  # nothing of the set-up
        for round_ in range(1, options.rounds + 1):
            if round_ > 1:
                time.sleep(options.idle)  # Spark stops Python workers idle for 1 min
            jobs = []
            for _new_then_reused in range(2):
                job = predict_table(model_uri, TABLE, OUTPUT, spark=spark, mode="overwrite",
                                    config=config)  # fmt: skip
                jobs.append((job, worker_phases()))
            rows, seconds, phases = baseline(spark, model_uri)
            assert rows == jobs[0][0].rows == jobs[1][0].rows == options.rows
            print(
                f"round {round_}: one process (read + load + predict + write) {seconds:.1f} s "
                f"({rows / seconds:,.0f} rows/s); CPU s: "
                + ", ".join(f"{name} {value:.2f}" for name, value in phases.items()),
                flush=True,
            )
            for name, (job, cpu) in zip(("new workers", "reused workers"), jobs, strict=True):
                print(
                    f"  predict_table on Spark, {name}: {job.seconds:.1f} s "
                    f"({job.rows_per_second:,.0f} rows/s), ratio {seconds / job.seconds:.2f}\n"
                    f"    workers: {cpu}",
                    flush=True,
                )
            print(f"  predictions differing from the baseline's: {differences(spark)}", flush=True)


if __name__ == "__main__":
    main()
