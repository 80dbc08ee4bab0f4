"""``register``: re-fit the best trial's parameters under its run and register the model."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jupyter_mlplat.errors import MLPlatError


def refit_and_register(objective: Callable[[Any], Any], params: dict[str, Any], *, name: str,
                       experiment_id: str, run_id: str, tags: dict[str, str]) -> str:  # fmt: skip
    """Run ``objective`` once on a ``FixedTrial`` of ``params`` inside run ``run_id`` (this
    thread's own run stack) with autolog on; register the model logged there as ``name`` with
    ``tags`` on the version. Returns the version number."""
    import mlflow
    import optuna

    mlflow.autolog(silent=True, log_models=True)
    try:
        with mlflow.start_run(run_id=run_id):
            objective(optuna.trial.FixedTrial(params))
    except Exception as err:
        raise MLPlatError(f"re-fitting the best trial failed: {type(err).__name__}: {err}") from err
    finally:
        mlflow.flush_async_logging()
    models = mlflow.search_logged_models(
        experiment_ids=[experiment_id],
        filter_string=f"source_run_id = '{run_id}'",
        order_by=[{"field_name": "creation_time", "ascending": False}],
        output_format="list",
    )
    if not models:
        raise MLPlatError(
            f"the best trial's re-fit logged no model, so nothing was registered as {name!r}: "
            "fit a model autolog knows (sklearn, xgboost, ...) or log one with "
            "mlflow.<flavor>.log_model in the objective"
        )
    version = mlflow.register_model(f"models:/{models[0].model_id}", name, tags=tags)
    return str(version.version)
