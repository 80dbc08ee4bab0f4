"""Batch predictions on Spark (``predict_table``) ÷ scoring the same rows in the driver.

Both are measured in the same run, on the same generated table (N rows of iris-like features)
and the same registered model (a scikit-learn logistic regression with a signature):

* platform: ``predict_table`` scores the table in Spark's Python workers and writes a new table
  (read + score + write + row-count check);
* baseline: the table collected to pandas in the driver, the model's ``predict`` on it (read +
  score only; nothing is written back).

Prints rows/s of both and their ratio (> 1: Spark is faster); asserts nothing. Starts its own
MLflow + Spark Connect servers under a temporary directory, or uses a running platform:

    .venv/bin/python benchmarks/batch_predict.py [-n 1000000] [--state-dir DIR_OF_MLPLAT_UP]
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

FEATURES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
TABLE, OUTPUT, MODEL = "bench.iris_rows", "bench.iris_rows_scored", "iris_bench"


def servers(stack: ExitStack, state_dir: str) -> tuple[str, str]:
    """``(tracking_uri, spark_remote)`` of a running platform, or of servers started here."""
    if state_dir:
        runtime = json.loads((Path(state_dir) / "platform.json").read_text())
        return runtime["tracking_uri"], runtime["spark_remote"]
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.platform.local import LocalPlatform

    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlplat-bench-")))
    platform = LocalPlatform(MLPlat(env={"MLP_STATE_DIR": str(root)}), root, spark=True)
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


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("-n", "--rows", type=int, default=1_000_000)
    args.add_argument("--state-dir", default="", help="use the platform running there")
    options = args.parse_args()

    with ExitStack() as stack:
        tracking_uri, remote = servers(stack, options.state_dir)
        import mlflow
        from pyspark.sql import SparkSession

        from jupyter_mlplat.config import MLPlat
        from jupyter_mlplat.deploy.batch import predict_table

        spark = SparkSession.builder.remote(remote).getOrCreate()
        stack.callback(spark.stop)
        model_uri = register_model(tracking_uri)
        make_table(spark, options.rows)
        config = MLPlat(env={"MLP_TRACKING_URI": tracking_uri})

        result = predict_table(
            model_uri, TABLE, OUTPUT, spark=spark, mode="overwrite", config=config
        )
        platform_rate = result.rows_per_second

        started = time.perf_counter()
        frame = spark.table(TABLE).toPandas()
        predictions = mlflow.pyfunc.load_model(model_uri).predict(frame[FEATURES])
        baseline_seconds = time.perf_counter() - started
        assert len(predictions) == result.rows == options.rows
        baseline_rate = options.rows / baseline_seconds

        print(f"rows: {options.rows:,} ({model_uri})")
        print(
            f"predict_table on Spark (read+score+write): {result.seconds:.1f} s, "
            f"{platform_rate:,.0f} rows/s"
        )
        print(
            f"baseline: collect to pandas + predict in the driver (no write): "
            f"{baseline_seconds:.1f} s, {baseline_rate:,.0f} rows/s"
        )
        print(f"ratio (Spark ÷ driver rows/s): {platform_rate / baseline_rate:.2f}")


if __name__ == "__main__":
    main()
