"""MLflow experiments the platform writes to on the user's behalf."""

from __future__ import annotations

from typing import Any


def get_or_create_experiment(client: Any, name: str) -> str:
    """The id of experiment ``name`` (an ``MlflowClient``), created when missing; safe when
    another kernel or task process creates it at the same moment."""
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name))
    except Exception:  # created meanwhile by another process
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)
