"""Run tags the platform writes and reads back (one owner for their names)."""

from __future__ import annotations

#: Tags of runs a pipeline task or DAG run produced (``<prefix>dag_id``, ``run_id``, ``task_id``,
#: ``try_number``, ``kind``...), written by the Airflow listener and the pipeline tasks.
PIPELINE_TAG = "mlplat.pipeline."
PIPELINE_FIELDS = ("dag_id", "run_id", "task_id", "try_number")


def pipeline_of(tags: dict[str, str]) -> dict[str, str] | None:
    """Which pipeline run (DAG, run, task, try) produced a run, from its tags; None if none."""
    if not tags.get(f"{PIPELINE_TAG}dag_id"):
        return None
    return {field: tags.get(f"{PIPELINE_TAG}{field}", "") for field in PIPELINE_FIELDS}


#: Tags of tuning runs (``<prefix>study``, ``kind`` = study | trial, ``trial``, ``state``...),
#: on the study's parent run, its trials' child runs and the model versions registered from them.
TUNING_TAG = "mlplat.tuning."
