"""Inside a pipeline task: ``spark`` and MLflow set up exactly as in a notebook kernel.

    from jupyter_mlplat.pipelines.context import spark
    spark.table("demo.iris").count()     # attaches to the platform's Spark on first use

Settings come from the ``MLP_*`` environment the platform gives task processes (the runner and
the embedded Airflow pass the kernel's). Importing this module is cheap: nothing connects until
a task uses ``spark``.
"""

from __future__ import annotations

import contextlib
import functools
import os
from collections.abc import Iterator
from typing import Any

from jupyter_mlplat.config import MLPlat


@functools.cache
def config() -> MLPlat:
    return MLPlat()


@functools.cache
def lineage() -> Any:
    """This process's lineage capture (None when ``MLPlat.lineage`` is off)."""
    from jupyter_mlplat.lineage.capture import LineageCapture

    return LineageCapture(config()) if config().lineage else None


@functools.cache
def session() -> Any:
    """This process's Spark Connect session to the platform's Spark (one per task process);
    what its actions read and write is recorded in the task's MLflow run, as in a notebook."""
    from jupyter_mlplat.spark.session import SparkSessions

    capture = lineage()
    return SparkSessions(config(), extensions=[capture] if capture else []).attach()


class _Spark:
    """``spark`` in a DAG file: stands for the session, created when a task first uses it (a
    DAG file is parsed far more often than its tasks run)."""

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(session(), name)

    def __repr__(self) -> str:
        return "<spark: the platform's Spark session, attached on first use in a task>"


spark: Any = _Spark()


def task_tags() -> dict[str, str]:
    """``mlplat.pipeline.*`` tags of the running Airflow task (empty outside one)."""
    try:
        from airflow.sdk import get_current_context

        context = get_current_context()
    except Exception:  # not inside a task (a plain script, a test)
        return {}
    ti = context["ti"]
    return {
        "mlplat.pipeline.dag_id": str(ti.dag_id),
        "mlplat.pipeline.run_id": str(ti.run_id),
        "mlplat.pipeline.task_id": str(ti.task_id),
        "mlplat.pipeline.try_number": str(ti.try_number),
    }


@contextlib.contextmanager
def task_run() -> Iterator[Any]:
    """The MLflow run a task logs to: the active one; else the task's child run that the
    platform's pipeline listener opened (it names it in ``MLFLOW_RUN_ID``: ``start_run()``
    resumes it); else, without the listener, a run of its own tagged with the task's identity."""
    import mlflow

    if config().tracking_uri and not mlflow.get_tracking_uri().startswith("http"):
        mlflow.set_tracking_uri(config().tracking_uri)
    active = mlflow.active_run()
    try:
        if active is not None:
            yield active
            return
        if os.environ.get("MLFLOW_RUN_ID"):
            with mlflow.start_run() as run:
                yield run
            return
        tags = task_tags()
        with mlflow.start_run(run_name=tags.get("mlplat.pipeline.task_id"), tags=tags) as run:
            yield run
    finally:
        capture = lineage()
        if capture is not None:
            capture.flush()  # the task's lineage is recorded before the task reports success
