"""The Airflow plugin of the platform (entry point ``airflow.plugins``): the MLflow listener.

Imported by Airflow processes only; it is the one module here that imports Airflow at the top.
"""

from __future__ import annotations

from typing import Any

from airflow.listeners import hookimpl
from airflow.plugins_manager import AirflowPlugin

from jupyter_mlplat.pipelines import listener


class MLflowListener:
    """Airflow's listener hooks, forwarded to :mod:`jupyter_mlplat.pipelines.listener`."""

    @hookimpl
    def on_dag_run_running(self, dag_run: Any, msg: str) -> None:
        listener._safely(listener.dag_run_running)(dag_run)

    @hookimpl
    def on_dag_run_success(self, dag_run: Any, msg: str) -> None:
        listener._safely(listener.dag_run_finished)(dag_run, "FINISHED")

    @hookimpl
    def on_dag_run_failed(self, dag_run: Any, msg: str) -> None:
        listener._safely(listener.dag_run_finished)(dag_run, "FAILED")

    @hookimpl
    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        listener._safely(listener.task_running)(task_instance)

    @hookimpl
    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        listener._safely(listener.task_finished)(task_instance, "FINISHED")

    @hookimpl
    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        listener._safely(listener.task_finished)(task_instance, "FAILED", error)

    @hookimpl
    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        listener._safely(listener.task_finished)(task_instance, "KILLED")


class MLPlatPlugin(AirflowPlugin):
    """Registers the MLflow listener with Airflow."""

    name = "jupyter_mlplat"
    listeners = [MLflowListener()]  # noqa: RUF012 (Airflow's plugin API)
