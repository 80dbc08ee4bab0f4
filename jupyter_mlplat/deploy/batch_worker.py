"""The part of batch predictions that runs inside Spark's Python workers.

A worker process loads the model once and keeps it for every later batch and task (Spark reuses
its Python workers, ``spark.python.worker.reuse``), so a job pays one load per worker, not one
per task or batch. The model's files are downloaded once per machine through the tracking
server (its artifact proxy): the first worker downloads them under a file lock, the others
wait for it and read the same copy. Only pinned versions (``models:/name/<version>``) come here,
so a copy never goes stale; the copy is keyed by the version's source too, so another tracking
server's model of the same name and version is never mistaken for it.

This module is imported by the workers: it imports nothing of the platform, and MLflow only when
a model is loaded. The workers' Python needs ``jupyter_mlplat``, mlflow and the model's
libraries (the local platform's Spark runs the platform's own Python).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pandas as pd  # the workers of a pandas UDF have it loaded already

#: Loaded models of this worker process, by identity (URI + source).
_models: dict[str, Any] = {}
_lock = threading.Lock()

#: When set (in the workers' environment), a file where each task appends one JSON line with the
#: CPU seconds of its phases: the worker's start, imports, download, model load, predict.
PHASES_ENV = "MLP_BATCH_PHASES"
#: CPU seconds of this process's phases not yet reported (a reused worker reports zeros).
_phases: dict[str, float] = {}

#: pandas dtypes of the Spark types a prediction column can have.
DTYPES = {"string": "str", "long": "int64", "int": "int32", "double": "float64",
          "float": "float32", "boolean": "bool"}  # fmt: skip


def scorer(
    model_uri: str, source: str, tracking_uri: str, spark_type: str
) -> Callable[[Iterator[pd.DataFrame]], Iterator[pd.Series]]:
    """The body of an iterator ``pandas_udf``: frames of input columns in, predictions out
    (the type hints tell Spark it is the iterator form)."""

    def score(frames: Iterator[pd.DataFrame]) -> Iterator[pd.Series]:
        begin_task()
        model = worker_model(model_uri, source, tracking_uri)
        predict, rows = 0.0, 0
        for frame in frames:
            started = time.process_time()
            column = prediction_column(model.predict(frame), spark_type)
            predict += time.process_time() - started
            rows += len(frame)
            yield column
        report_phases(predict, rows)

    return score


def worker_model(model_uri: str, source: str, tracking_uri: str) -> Any:
    """The model, loaded at most once in this process."""
    identity = f"{model_uri} {source}"
    with _lock:  # a worker may run tasks in threads: still one load
        model = _models.get(identity)
        if model is None:
            started = time.process_time()
            import mlflow.pyfunc

            _phases["import"] = time.process_time() - started
            path = local_copy(model_uri, tracking_uri, identity)
            _phases["download"] = time.process_time() - started - _phases["import"]
            started = time.process_time()
            # no check of the installed packages against the model's requirements: it only
            # warns, into a Spark log nobody reads, and costs seconds for a model logged with
            # a long requirements list
            model = mlflow.pyfunc.load_model(str(path), suppress_warnings=True)
            _phases["load"] = time.process_time() - started
            _models[identity] = model
        return model


def local_copy(model_uri: str, tracking_uri: str, identity: str) -> Path:
    """The model's directory on this machine, downloaded by the first worker that needs it."""
    import fcntl

    root = Path(tempfile.gettempdir()) / "mlplat-batch-models"
    key = hashlib.sha256(f"{tracking_uri} {identity}".encode()).hexdigest()[:32]
    target = root / key
    if (target / "MLmodel").is_file():
        return target
    root.mkdir(parents=True, exist_ok=True)
    with (root / f"{key}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # the other workers wait for the first one's copy
        if not (target / "MLmodel").is_file():
            import mlflow.artifacts

            # models:/ URIs resolve through the registry, which follows the global tracking URI
            # (as in MLflow's own UDF; this process is a Spark worker, not the user's)
            mlflow.set_tracking_uri(tracking_uri)
            staging = Path(tempfile.mkdtemp(prefix=f"{key}-", dir=root))
            try:
                mlflow.artifacts.download_artifacts(artifact_uri=model_uri, dst_path=str(staging))
                found = next(staging.rglob("MLmodel")).parent
                os.replace(found, target)  # whole or not at all
            finally:
                shutil.rmtree(staging, ignore_errors=True)
    return target


def begin_task() -> None:
    """Note a new worker's CPU so far (its start). A module function, not in ``score``: Spark
    pickles ``score`` by value, with copies of the globals it names."""
    _phases.setdefault("start", time.process_time())


def report_phases(predict: float, rows: int) -> None:
    """Append this task's CPU seconds per phase to the phases file, when one is asked for."""
    line = {key: round(value, 3) for key, value in _phases.items()}
    append_phases(line | {"pid": os.getpid(), "predict": round(predict, 3), "rows": rows})
    _phases.clear()
    _phases["start"] = 0.0  # reported: a later task of this worker starts from here


def append_phases(line: dict[str, Any]) -> None:
    """``line`` as one JSON line of the phases file (:data:`PHASES_ENV`), when one is asked for:
    the tasks' phases and the worker daemon's imports (benchmarks)."""
    path = os.environ.get(PHASES_ENV)
    if path:
        with open(path, "a", encoding="utf-8") as file:
            file.write(json.dumps(line) + "\n")


def prediction_column(result: Any, spark_type: str) -> pd.Series:
    """A model's output for one batch as one pandas Series of ``spark_type`` (the first
    column of a 2-D output, as MLflow's own UDF does)."""
    frame = result if isinstance(result, pd.DataFrame) else pd.DataFrame(result)
    column = frame.iloc[:, 0].reset_index(drop=True)
    return column.astype(DTYPES[spark_type])
