"""Spark's Python worker daemon, with the libraries of model scoring imported before it forks.

Spark starts one daemon per Python executable and Spark Connect session (each session has its
own artifacts: measured, two sessions run two daemons) with ``python -m <this module>
pyspark.worker`` when a job first needs a Python worker, and the daemon forks one worker per
task slot (``predict_table`` starts it with a one-row job, ahead of its own). Spark stops
workers that stay idle for a minute (a fixed timeout), the daemon stays. pyspark's own daemon
imports nothing, so every new worker imports pandas, pyarrow, MLflow and the model's library
again: seconds of CPU per worker before it scores a row. This daemon imports them once, then
runs pyspark's own daemon loop: every worker it forks starts with them loaded (and shares their
pages). It exists only once a job has used Python workers, as pyspark's does.

Forking after these imports is safe: they start no Python threads; the native pools that
exist (OpenBLAS's, jemalloc's background thread) are re-created in a child by their libraries'
own fork handlers.
"""

from __future__ import annotations

import gc
import importlib
import os
import sys
import time

#: Comma-separated modules to import before forking (set to change the default list).
PRELOAD_ENV = "MLP_SPARK_WORKER_PRELOAD"
#: What pandas UDFs and MLflow models need (batch predictions): skops (MLflow's format for
#: scikit-learn models; importing it imports all of scikit-learn's estimators, to list the types
#: it trusts), the worker, Arrow and pandas, MLflow's pyfunc and scikit-learn flavour; and Optuna,
#: which every task of a ``parallel="spark"`` study imports before its first trial (≈0.1 CPU s on
#: top of the rest, ≈0.35 s alone: its start on every core otherwise). skops comes first: it looks
#: each of scipy's ufuncs up in every loaded module (``sys.modules``), so after MLflow's ~2,000
#: modules that costs ~0.7 CPU s more.
PRELOAD = (
    "skops.io",
    "pyspark.worker",
    "pandas",
    "pyarrow",
    "pyspark.sql.pandas.serializers",
    "mlflow.pyfunc",
    "mlflow.artifacts",
    "mlflow.sklearn",
    "optuna",
)


def preload(modules: list[str]) -> list[str]:
    """Import ``modules``; those that fail (a library not installed) are skipped: the workers
    then import what they need themselves. The names that failed."""
    failed = []
    for name in modules:
        try:
            importlib.import_module(name)
        except Exception:  # any import error only loses the head start
            failed.append(name)
    return failed


def main() -> None:
    wanted = os.environ.get(PRELOAD_ENV)
    names = PRELOAD if wanted is None else wanted.split(",")
    modules = [name.strip() for name in names if name.strip()]
    started = time.process_time()
    # stdout is the daemon's channel to Spark (its port): nothing imported may write there
    saved = os.dup(1)
    os.dup2(2, 1)
    try:
        failed = preload(modules)
    finally:
        sys.stdout.flush()
        os.dup2(saved, 1)
        os.close(saved)
    if failed:
        print(f"mlplat worker daemon: not preloaded: {', '.join(failed)}", file=sys.stderr)
    record(time.process_time() - started)
    # pyspark's reused workers run a full gc.collect() after every task: over the preloaded
    # heap that is ≈0.2 CPU s a task (and copies every page it touches from the daemon);
    # frozen, the preloaded objects are left out of every collection
    gc.freeze()

    from pyspark.daemon import manager

    manager()


def record(seconds: float) -> None:
    """The daemon's import CPU in the batch workers' phases file, when one is asked for
    (benchmarks). Imported after the preload: pandas, which it needs, is loaded by then."""
    from jupyter_mlplat.deploy.batch_worker import append_phases

    append_phases({"daemon": os.getpid(), "import_cpu": round(seconds, 3)})


if __name__ == "__main__":
    main()
