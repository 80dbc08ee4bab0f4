"""Batch predictions' pure parts: the prediction column's type, the worker's model cache, its
CPU report per phase; Spark's Python worker daemon that preloads their libraries."""

from __future__ import annotations

import importlib
import json
import os
import subprocess
import sys
from pathlib import Path

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


def test_a_worker_loads_each_model_once(monkeypatch, tmp_path):
    loads = []

    class Model:
        def predict(self, frame):
            return frame["a"] * 2

    def load(path, suppress_warnings):
        loads.append(path)
        return Model()

    monkeypatch.setattr(batch_worker, "_models", {})
    monkeypatch.setattr(batch_worker, "local_copy", lambda uri, tracking, identity: tmp_path)
    monkeypatch.setattr(importlib.import_module("mlflow.pyfunc"), "load_model", load)
    score = batch_worker.scorer("models:/m/1", "uuid-1", "http://mlflow", "double")
    for _task in range(3):  # three tasks in one worker, two batches each
        out = list(score(iter([FEATURES, FEATURES])))
        assert [s.tolist() for s in out] == [[2.0, 4.0], [2.0, 4.0]]
    assert loads == [str(tmp_path)]
    list(batch_worker.scorer("models:/m/1", "uuid-2", "http://mlflow", "double")(iter([FEATURES])))
    assert len(loads) == 2  # another logged model under the same name and version


def test_the_model_files_are_downloaded_once_per_machine(monkeypatch, tmp_path):
    downloads = []

    def download(artifact_uri, dst_path):
        downloads.append(artifact_uri)
        model = Path(dst_path) / "model"
        model.mkdir()
        (model / "MLmodel").write_text("flavors: {}\n")
        return str(model)

    monkeypatch.setattr("tempfile.gettempdir", lambda: str(tmp_path))
    monkeypatch.setattr("mlflow.set_tracking_uri", lambda uri: None)
    monkeypatch.setattr(importlib.import_module("mlflow.artifacts"), "download_artifacts", download)
    first = batch_worker.local_copy("models:/m/1", "http://mlflow", "models:/m/1 uuid-1")
    again = batch_worker.local_copy("models:/m/1", "http://mlflow", "models:/m/1 uuid-1")
    assert first == again and (first / "MLmodel").is_file() and downloads == ["models:/m/1"]
    assert [p.name for p in first.parent.iterdir() if p.is_dir()] == [first.name]  # no leftovers


def test_each_task_reports_its_cpu_per_phase_when_asked(monkeypatch, tmp_path):
    class Model:
        def predict(self, frame):
            return frame["a"]

    phases = tmp_path / "phases.jsonl"
    monkeypatch.setenv(batch_worker.PHASES_ENV, str(phases))
    monkeypatch.setattr(batch_worker, "_models", {})
    monkeypatch.setattr(batch_worker, "_phases", {})
    monkeypatch.setattr(batch_worker, "local_copy", lambda uri, tracking, identity: tmp_path)
    monkeypatch.setattr(importlib.import_module("mlflow.pyfunc"), "load_model",
                        lambda path, suppress_warnings: Model())  # fmt: skip
    score = batch_worker.scorer("models:/m/1", "uuid-1", "http://mlflow", "double")
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
