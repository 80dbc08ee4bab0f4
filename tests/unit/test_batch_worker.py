"""Batch predictions' worker parts: the prediction column's type, the worker's model cache
(a real model saved on disk, downloaded and loaded by MLflow), its CPU report per phase; Spark's
Python worker daemon that preloads their libraries."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
from mlflow.models import infer_signature
from mlflow.models.signature import ModelSignature
from mlflow.types import ColSpec, Schema

from jupyter_mlplat.deploy import batch_worker
from jupyter_mlplat.deploy.batch import prediction_type, rows_per_batch

FEATURES = pd.DataFrame({"a": [1.0, 2.0], "b": [3.0, 4.0]})


@pytest.mark.parametrize(
    ("predictions", "expected"),
    [
        (np.array([0, 1]), "long"),
        (np.array([0.5, 1.5]), "double"),
        (np.array(["x", "y"]), "string"),
        (np.array([True, False]), "boolean"),
        (pd.DataFrame({"label": ["x", "y"]}), "string"),
        (pd.DataFrame({"p": [0.1, 0.2], "q": [0.9, 0.8]}), None),  # two columns: MLflow's UDF
    ],
)
def test_the_prediction_type_comes_from_the_signature(predictions, expected):
    assert prediction_type(infer_signature(FEATURES, predictions)) == expected


def test_batches_are_large_but_shorter_for_wide_tables():
    assert rows_per_batch(5) == 100_000  # Spark's columnar readers would give 4,096
    assert rows_per_batch(100) == 20_000
    assert rows_per_batch(5_000) == 4_096  # never below the readers' own batch


def test_a_model_without_an_output_schema_goes_to_mlflows_udf():
    assert prediction_type(None) is None
    assert prediction_type(ModelSignature(inputs=Schema([ColSpec("double", "a")]))) is None


def test_predictions_become_one_column_of_the_spark_type():
    column = batch_worker.prediction_column(np.array([[1, 7], [2, 8]]), "long")
    assert column.tolist() == [1, 2] and str(column.dtype) == "int64"
    labels = pd.Series(["x", "y"], index=[5, 6])  # the batch's index is not the output's
    assert batch_worker.prediction_column(labels, "string").tolist() == ["x", "y"]


DOUBLER = """
import mlflow.pyfunc
from mlflow.models import set_model


class Doubler(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return model_input["a"] * 2


set_model(Doubler())
"""


@pytest.fixture(scope="module")
def saved_model(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A real pyfunc model on disk, as a ``file:`` URI MLflow downloads like any artifact."""
    import mlflow.pyfunc

    root = tmp_path_factory.mktemp("batch-model")
    (root / "doubler.py").write_text(DOUBLER)
    mlflow.pyfunc.save_model(str(root / "model"), python_model=str(root / "doubler.py"))
    return (root / "model").as_uri()


@pytest.fixture
def worker(monkeypatch, tmp_path):
    """A fresh worker process's state: no model loaded, its machine's model cache under
    ``tmp_path``; the tracking URI the worker sets is restored afterwards."""
    import mlflow

    previous = mlflow.get_tracking_uri()
    monkeypatch.setattr(batch_worker, "_models", {})
    monkeypatch.setattr(batch_worker, "_phases", {})
    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    yield (tmp_path / "mlruns").as_uri()
    mlflow.set_tracking_uri(previous)


def test_a_worker_loads_each_model_once(monkeypatch, saved_model, worker):
    import mlflow.pyfunc

    loads = []
    real_load = mlflow.pyfunc.load_model

    def load(path, **options):
        loads.append(path)
        return real_load(path, **options)

    monkeypatch.setattr(mlflow.pyfunc, "load_model", load)
    score = batch_worker.scorer(saved_model, "uuid-1", worker, "double")
    for _task in range(3):  # three tasks in one worker, two batches each
        out = list(score(iter([FEATURES, FEATURES])))
        assert [s.tolist() for s in out] == [[2.0, 4.0], [2.0, 4.0]]
    assert loads == [str(batch_worker.local_copy(saved_model, worker, f"{saved_model} uuid-1"))]
    list(batch_worker.scorer(saved_model, "uuid-2", worker, "double")(iter([FEATURES])))
    assert len(loads) == 2  # another logged model under the same name and version


def test_the_model_files_are_downloaded_once_per_machine(monkeypatch, saved_model, worker):
    import mlflow.artifacts

    downloads = []
    real_download = mlflow.artifacts.download_artifacts

    def download(artifact_uri, dst_path):
        downloads.append(artifact_uri)
        return real_download(artifact_uri=artifact_uri, dst_path=dst_path)

    monkeypatch.setattr(mlflow.artifacts, "download_artifacts", download)
    first = batch_worker.local_copy(saved_model, worker, f"{saved_model} uuid-1")
    again = batch_worker.local_copy(saved_model, worker, f"{saved_model} uuid-1")
    assert first == again and (first / "MLmodel").is_file() and downloads == [saved_model]
    assert [p.name for p in first.parent.iterdir() if p.is_dir()] == [first.name]  # no leftovers


def test_each_task_reports_its_cpu_per_phase_when_asked(monkeypatch, tmp_path, saved_model, worker):
    phases = tmp_path / "phases.jsonl"
    monkeypatch.setenv(batch_worker.PHASES_ENV, str(phases))
    score = batch_worker.scorer(saved_model, "uuid-1", worker, "double")
    for _task in range(2):
        list(score(iter([FEATURES, FEATURES])))
    first, second = (json.loads(line) for line in phases.read_text().splitlines())
    assert {"start", "import", "download", "load", "predict"} <= first.keys()
    assert first["rows"] == second["rows"] == 4
    assert second.keys() == {"start", "predict", "rows", "pid"} and second["start"] == 0.0


def test_the_worker_daemon_preloads_then_speaks_pysparks_protocol(tmp_path):
    """The daemon imports its list (skipping what is missing, writing nothing to stdout, its
    channel to Spark), prints its port as pyspark's daemon does, and exits when stdin closes."""
    env = {**os.environ, "MLP_SPARK_WORKER_PRELOAD": "json,no_such_module_here",
           "MLP_BATCH_PHASES": str(tmp_path / "phases.jsonl")}  # fmt: skip
    done = subprocess.run(
        [sys.executable, "-m", "jupyter_mlplat.spark.worker_daemon", "pyspark.worker"],
        input=b"", capture_output=True, env=env, timeout=60, check=False,
    )  # fmt: skip
    assert len(done.stdout) == 4 and 0 < int.from_bytes(done.stdout, "big") < 65536, done
    assert b"not preloaded: no_such_module_here" in done.stderr
    record = json.loads((tmp_path / "phases.jsonl").read_text())
    assert record["import_cpu"] >= 0 and record["daemon"] > 0
