"""The local platform's Spark Connect server: pyspark's own distribution, bound to loopback."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from jupyter_mlplat.infra.processes import Service


def spark_home() -> Path:
    """The Spark distribution inside the installed pyspark package."""
    import importlib.util

    spec = importlib.util.find_spec("pyspark")
    if spec is None or spec.origin is None:
        raise RuntimeError("pyspark is not installed")
    return Path(spec.origin).parent


def connect_server(
    state: Path,
    port: int,
    ui_port: int,
    log: Path,
    *,
    driver_memory: str = "1g",
    java_options: str = "",
) -> Service:
    """A Spark Connect server with a local master, a Hive metastore on Derby and a warehouse.

    Everything lives under ``state``; all ports are bound to 127.0.0.1. ``driver_memory`` is
    the JVM's heap cap, ``java_options`` more JVM options (sizing).
    """
    warehouse = state / "warehouse"
    metastore = state / "metastore_db"
    warehouse.mkdir(parents=True, exist_ok=True)
    home = spark_home()
    conf = {
        "spark.connect.grpc.binding.address": "127.0.0.1",
        "spark.connect.grpc.binding.port": str(port),
        "spark.driver.bindAddress": "127.0.0.1",
        "spark.driver.host": "127.0.0.1",
        "spark.ui.port": str(ui_port),
        "spark.sql.catalogImplementation": "hive",
        "spark.sql.warehouse.dir": str(warehouse),
        "spark.hadoop.javax.jdo.option.ConnectionURL": (
            f"jdbc:derby:;databaseName={metastore};create=true"
        ),
        "spark.driver.extraJavaOptions": f"-Dderby.system.home={state} {java_options}".strip(),
        # small data on a laptop: a handful of shuffle partitions, not 200
        "spark.sql.shuffle.partitions": "8",
        "spark.sql.adaptive.enabled": "true",
        "spark.connect.progress.reportInterval": "500ms",
        "spark.ui.showConsoleProgress": "false",
        # one user's session: the UI keeps a short history, not 1,000 jobs and 100,000 tasks
        "spark.ui.retainedJobs": "100",
        "spark.ui.retainedStages": "100",
        "spark.ui.retainedTasks": "10000",
        "spark.sql.ui.retainedExecutions": "100",
        "spark.sql.connect.ui.retainedSessions": "20",
        "spark.sql.connect.ui.retainedStatements": "100",
        # Python workers are forked from a daemon that has imported pandas, pyarrow, MLflow and
        # scikit-learn once (started with the first Python job): a new worker (Spark stops
        # idle ones after a minute) starts warm instead of importing them again
        "spark.python.daemon.module": "jupyter_mlplat.spark.worker_daemon",
        "spark.python.worker.reuse": "true",
    }
    command = [
        str(home / "bin" / "spark-submit"),
        "--class", "org.apache.spark.sql.connect.service.SparkConnectServer",
        "--name", "Spark Connect server (jupyter-mlplat)",
        "--master", "local[*]",
        "--driver-memory", driver_memory,
    ]  # fmt: skip
    for key, value in conf.items():
        command += ["--conf", f"{key}={value}"]
    env = {
        "SPARK_HOME": str(home),
        "SPARK_LOG_DIR": str(log.parent),
        # Python UDFs (batch predictions with MLflow models) run in the platform's own Python,
        # which has mlflow and the model libraries; PATH's python3 may have neither
        "PYSPARK_PYTHON": os.environ.get("PYSPARK_PYTHON") or sys.executable,
        "MLFLOW_DISABLE_TELEMETRY": "true",
        # fewer glibc malloc arenas for the JVM's many native threads (less idle RSS)
        "MALLOC_ARENA_MAX": "2",
    }
    if "JAVA_HOME" not in os.environ and Path("/usr/lib/jvm/default-java").exists():
        env["JAVA_HOME"] = "/usr/lib/jvm/default-java"
    return Service("spark-connect", command, f"tcp://127.0.0.1:{port}", log, env, cwd=state)
