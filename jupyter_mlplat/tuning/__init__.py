"""Hyperparameter tuning on Optuna: studies tracked in MLflow, trials in parallel locally, on
Spark or on Kubernetes.

``tune(objective, trials=20)`` blocks and returns a :class:`TuningResult`; ``start(objective,
spec)`` returns a :class:`TuningRun` at once (the study runs on a background thread) for a live
view. Without a kernel the configuration comes from the environment (``MLP_*``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from jupyter_mlplat.tuning.spec import TuningProgress, TuningResult, TuningSpec

if TYPE_CHECKING:
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.tuning.engine import TuningRun

__all__ = ["TuningProgress", "TuningResult", "TuningRun", "TuningSpec", "start", "tune"]


def __getattr__(name: str) -> Any:
    # the engine (config, MLflow helpers) only when asked: every trial worker process and Spark
    # task imports this package on its way to the worker module
    if name == "TuningRun":
        from jupyter_mlplat.tuning.engine import TuningRun

        return TuningRun
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def start(objective: Callable[[Any], Any], spec: TuningSpec, *, config: MLPlat | None = None,
          spark: Any = None, api_client: Any = None) -> TuningRun:  # fmt: skip
    """Start a study in the background and return its handle at once. ``spark``: the session
    of ``parallel="spark"``; ``api_client``: a Kubernetes ``ApiClient`` for
    ``parallel="kubernetes"`` (default: in-cluster, else the kubeconfig)."""
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.tuning.engine import TuningRun

    return TuningRun(objective, spec, config or MLPlat(), spark, api_client)


def tune(
    objective: Callable[[Any], Any],
    *,
    trials: int,
    parallel: str = "local",
    workers: int | None = None,
    timeout: float | None = None,
    direction: str = "minimize",
    metric: str = "value",
    study_name: str | None = None,
    new: bool = False,
    pruner: str = "median",
    register: str | None = None,
    config: MLPlat | None = None,
    spark: Any = None,
    progress: Callable[[TuningProgress], None] | None = None,
) -> TuningResult:
    """Run a study to its end (scripts, pipelines); ``progress`` is called about once a second."""
    spec = TuningSpec(
        trials=trials, parallel=parallel, workers=workers, timeout=timeout, direction=direction,
        metric=metric, study_name=study_name, new=new, pruner=pruner, register=register,
    )  # fmt: skip
    run = start(objective, spec, config=config, spark=spark)
    if progress is not None:
        while not run.done:
            progress(run.progress())
            run.join(1.0)  # returns at the study's end, not up to a second later
        progress(run.progress())
    return run.wait()
