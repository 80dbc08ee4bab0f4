"""Notebook cell -> first successful pipeline run, timed by phase.

What a user does in two cells, done here in-process with the same calls the magics make:

1. ``%mlp pipeline new --template classification --table demo.iris --label species``: the DAG
   file, its feature config and quality suite written, the DAG imported by Airflow (DagBag in a
   subprocess);
2. ``%mlp pipeline run iris_classification``: ``dag.test()`` in a subprocess; the first run also
   creates the runs' Airflow database (``airflow db migrate``). Every task's time is printed.

Then the same for a two-task ``%%mlp pipeline`` cell, and a second run of the template (warm:
database in place) for comparison. Starts its own MLflow + Spark Connect under a temporary
directory, or uses a running platform:

    .venv/bin/python benchmarks/pipelines_first_run.py [--state-dir DIR_OF_MLPLAT_UP]
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path
from typing import Any

from batch_predict import servers  # benchmarks/ is on sys.path when run as a script

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

CELL = """
@task
def count_rows() -> int:
    return spark.table("demo.iris").count()

@task
def report(rows: int) -> str:
    print("rows", rows)
    return "demo.iris"

report(count_rows())
"""


def timed_run(name: str, config: Any) -> float:
    from jupyter_mlplat.pipelines.runner import run_now

    result = run_now(name, config=config)
    if result.state != "success":
        raise SystemExit(f"{name}: {result.state}: {result.error} (log: {result.log})")
    tasks = ", ".join(f"{t} {e.get('duration') or 0:.1f}" for t, e in result.tasks.items())
    print(f"    tasks (s): {tasks}")
    return result.seconds


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--state-dir", default="", help="use the platform running there")
    options = args.parse_args()

    with ExitStack() as stack:
        tracking_uri, remote = servers(stack, options.state_dir)  # as batch_predict.py does
        project = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlplat-proj-")))
        from pyspark.sql import SparkSession

        from jupyter_mlplat.config import MLPlat
        from jupyter_mlplat.pipelines.project import write_from_cell
        from jupyter_mlplat.pipelines.templates import new_pipeline
        from jupyter_mlplat.spark.demo import seed

        config = MLPlat(
            env={
                "MLP_TRACKING_URI": tracking_uri,
                "MLP_SPARK_MODE": "local",
                "MLP_SPARK_REMOTE": remote,
                "MLP_STATE_DIR": str(project / "state"),  # a fresh Airflow home for the runs
                "MLP_PIPELINES_DIR": str(project / "pipelines"),
                "MLP_QUALITY_SUITES_DIR": str(project / "suites"),
                "MLP_USER": "bench",
            }
        )
        spark = SparkSession.builder.remote(remote).getOrCreate()
        stack.callback(spark.stop)
        seed(spark)  # the demo database (mlplat up creates it)
        name = f"iris_bench_{int(time.time())}"

        started = time.perf_counter()
        new_pipeline(
            "classification", "demo.iris", "species", spark=spark, name=name, config=config
        )
        write = time.perf_counter() - started
        print(f"template: %mlp pipeline new (write + Airflow import check): {write:.1f} s")
        first = timed_run(name, config)
        print(f"template: first run (incl. airflow db migrate): {first:.1f} s")
        print(f"template: cell -> first successful run: {write + first:.1f} s")
        second = timed_run(name, config)
        print(f"template: second run (warm database): {second:.1f} s")

        started = time.perf_counter()
        write_from_cell(f"{name}_cell", CELL, None, config)
        cell_write = time.perf_counter() - started
        cell_run = timed_run(f"{name}_cell", config)
        print(
            f"%%mlp pipeline cell: write + check {cell_write:.1f} s, run {cell_run:.1f} s, "
            f"total {cell_write + cell_run:.1f} s"
        )


if __name__ == "__main__":
    main()
