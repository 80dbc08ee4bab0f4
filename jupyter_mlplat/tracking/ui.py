"""Where the lab shows MLflow: the Jupyter server proxies the MLflow UI under one path."""

from __future__ import annotations

from urllib.parse import quote

#: The proxied MLflow UI, relative to the Jupyter server's base URL (the REST surface serves it,
#: the status payload tells the lab, records link into it).
MLFLOW_UI_PATH = "mlplat/mlflow/"


def run_ui_path(experiment_id: str, run_id: str) -> str:
    """Where the lab's proxied MLflow UI shows a run (relative to the Jupyter base URL)."""
    return f"{MLFLOW_UI_PATH}#/experiments/{experiment_id}/runs/{run_id}"


def model_version_ui_path(name: str, version: str) -> str:
    """Where the lab's proxied MLflow UI shows a registered model's version."""
    return f"{MLFLOW_UI_PATH}#/models/{quote(name, safe='')}/versions/{version}"
