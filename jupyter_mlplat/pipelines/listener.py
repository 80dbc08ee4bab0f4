"""Airflow listener: every DAG run is an MLflow parent run, every task try a child run.

Loaded by Airflow through the plugin (``plugin.py``) in the scheduler, the task processes and
``dag.test()``. The DAG-run hooks run in the scheduler (or the ``dag.test()`` process), the task
hooks in the process that runs the task; they meet through tags: the parent run is found (or
created) by ``mlplat.pipeline.dag_id`` + ``mlplat.pipeline.run_id``.

While a task runs, ``MLFLOW_RUN_ID`` names its child run, so ``mlflow.start_run()`` in the task
body resumes that run and what the task logs (a model version) points back to the pipeline run.

A listener must never break a pipeline: every failure is logged as a warning and ignored.
Without a tracking URI (``MLP_TRACKING_URI``) the hooks do nothing.
"""

from __future__ import annotations

import functools
import logging
import os
import sys
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.tracking.experiments import get_or_create_experiment
from jupyter_mlplat.tracking.tags import PIPELINE_TAG

log = logging.getLogger(__name__)

TAG = PIPELINE_TAG
DAG_ID, RUN_ID, TASK_ID, TRY_NUMBER, KIND = (
    f"{TAG}dag_id",
    f"{TAG}run_id",
    f"{TAG}task_id",
    f"{TAG}try_number",
    f"{TAG}kind",
)
PARENT_TAG = "mlflow.parentRunId"


@functools.cache
def _config() -> MLPlat:
    return MLPlat()


def experiment_name(dag_id: str) -> str:
    """The experiment of a pipeline's runs: the user's default, with ``{notebook}`` = dag id."""
    return _config().experiment_for(f"{dag_id}.py")


def _client() -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=_config().tracking_uri)


def _enabled() -> bool:
    return bool(_config().tracking_uri)


def _quoted(value: str) -> str:
    return "'" + value.replace("\\", "\\\\").replace("'", "\\'") + "'"


def parent_run(client: Any, dag_id: str, run_id: str, *, create: bool = True) -> str | None:
    """The MLflow run of a DAG run, found by its tags (created when missing and ``create``)."""
    experiment_id = get_or_create_experiment(client, experiment_name(dag_id))
    found = client.search_runs(
        [experiment_id],
        filter_string=(
            f"tags.`{KIND}` = 'dag_run' and tags.`{DAG_ID}` = {_quoted(dag_id)} "
            f"and tags.`{RUN_ID}` = {_quoted(run_id)}"
        ),
        max_results=1,
    )
    if found:
        return str(found[0].info.run_id)
    if not create:
        return None
    run = client.create_run(
        experiment_id,
        run_name=f"{dag_id} {run_id}",
        tags={
            KIND: "dag_run",
            DAG_ID: dag_id,
            RUN_ID: run_id,
            "mlflow.user": _config().resolved_user,
            "mlflow.source.type": "JOB",
            "mlflow.source.name": f"airflow:{dag_id}",
        },
    )
    return str(run.info.run_id)


def _safely(hook: Any) -> Any:
    @functools.wraps(hook)
    def wrapper(*args: Any, **kwargs: Any) -> None:
        if not _enabled():
            return
        try:
            hook(*args, **kwargs)
        except Exception as err:  # tracking is best effort: the pipeline goes on
            log.warning("mlplat: MLflow tracking of the pipeline failed: %s", err)

    return wrapper


# -- DAG runs (scheduler, dag.test) ------------------------------------------------------------


def dag_run_running(dag_run: Any) -> None:
    parent_run(_client(), dag_run.dag_id, dag_run.run_id)


def dag_run_finished(dag_run: Any, status: str) -> None:
    client = _client()
    run = parent_run(client, dag_run.dag_id, dag_run.run_id)
    client.set_tag(run, f"{TAG}state", str(getattr(dag_run, "state", "") or status).lower())
    client.set_terminated(run, status)


# -- task tries (the task's process) -----------------------------------------------------------

_current: dict[str, str] = {}  # task key -> child run id, in this process


def _key(ti: Any) -> str:
    return f"{ti.dag_id}/{ti.run_id}/{ti.task_id}/{getattr(ti, 'map_index', -1)}/{ti.try_number}"


def task_running(ti: Any) -> None:
    client = _client()
    parent = parent_run(client, ti.dag_id, ti.run_id)
    map_index = getattr(ti, "map_index", -1)
    name = ti.task_id if map_index is None or map_index < 0 else f"{ti.task_id}[{map_index}]"
    if ti.try_number and ti.try_number > 1:
        name += f" (try {ti.try_number})"
    run = client.create_run(
        get_or_create_experiment(client, experiment_name(ti.dag_id)),
        run_name=name,
        tags={
            PARENT_TAG: parent,
            KIND: "task",
            DAG_ID: ti.dag_id,
            RUN_ID: ti.run_id,
            TASK_ID: ti.task_id,
            TRY_NUMBER: str(ti.try_number),
            "mlflow.user": _config().resolved_user,
            "mlflow.source.type": "JOB",
            "mlflow.source.name": f"airflow:{ti.dag_id}.{ti.task_id}",
        },
    )
    _current[_key(ti)] = run.info.run_id
    # the task body's mlflow.start_run() resumes this run
    os.environ["MLFLOW_RUN_ID"] = run.info.run_id
    os.environ.setdefault("MLFLOW_TRACKING_URI", _config().tracking_uri)


def task_finished(ti: Any, status: str, error: Any = None) -> None:
    run = _current.pop(_key(ti), None)
    if os.environ.get("MLFLOW_RUN_ID") == run:
        os.environ.pop("MLFLOW_RUN_ID", None)
    if run is None:  # a hook outside the task's process (the API server marking a state)
        return
    client = _client()
    if error:
        text = str(error).strip().splitlines()
        client.set_tag(run, f"{TAG}error", (text[0] if text else type(error).__name__)[:500])
    mlflow = sys.modules.get("mlflow")
    active = mlflow.active_run() if mlflow is not None else None
    if active is not None and active.info.run_id == run:
        mlflow.end_run(status)  # type: ignore[union-attr]  # flushes what the task logged
    else:
        client.set_terminated(run, status)
