"""Report generation (``reports.evaluate``), 100k holdout rows ÷ plain ``mlflow.models.evaluate``.

Both are measured in the same run, on the same rows (a pandas frame of N generated rows, 10
features, a binary label or a numeric target) and the same registered model:

* baseline: load the model + ``mlflow.models.evaluate`` in a new run (explainability off);
* platform: ``evaluate(...)`` without a champion (resolve + digest + load + the same evaluate +
  plots added + report rendered and logged + the version tagged), then the report indexed
  (a sync of the reports index from MLflow, SQLite);
* also: with the champion diff, once evaluating the champion now, once reusing its report.

Baseline and report alternate ``--repeat`` times (medians). Prints seconds, the split (load /
evaluate / render / log / indexing) and the ratio platform ÷ baseline; asserts nothing. Starts
its own MLflow server under a temporary directory, or uses a running platform:

    .venv/bin/python benchmarks/report_generation.py [-n 100000] [--type regressor]
        [--state-dir DIR_OF_MLPLAT_UP]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import time
import uuid
from contextlib import ExitStack
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
os.environ.setdefault("MLFLOW_ENABLE_ARTIFACTS_PROGRESS_BAR", "false")

LABEL = "label"


def tracking_server(stack: ExitStack, state_dir: str) -> str:
    """The tracking URI of a running platform, or of an MLflow server started here."""
    if state_dir:
        return str(json.loads((Path(state_dir) / "platform.json").read_text())["tracking_uri"])
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.platform.local import LocalPlatform

    root = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlplat-bench-")))
    platform = LocalPlatform(MLPlat(env={"MLP_STATE_DIR": str(root)}), root, spark=False)
    service = platform.mlflow_service()
    service.start()
    stack.callback(service.stop)
    service.wait_ready(180)
    return platform.tracking_uri


def holdout(rows: int, kind: str) -> Any:
    """``rows`` generated rows (and 5,000 more to train on): features f0..f9 + the label."""
    import pandas as pd
    from sklearn.datasets import make_classification, make_regression

    total = rows + 5_000
    if kind == "classifier":
        x, y = make_classification(total, n_features=10, n_informative=6, random_state=0)
    else:
        x, y = make_regression(total, n_features=10, n_informative=6, noise=20, random_state=0)
    frame = pd.DataFrame(x, columns=[f"f{i}" for i in range(10)])
    frame[LABEL] = y
    return frame.iloc[:5_000], frame.iloc[5_000:].reset_index(drop=True)


def register(tracking_uri: str, train: Any, kind: str, name: str) -> None:
    """Two versions (v1 the champion, weaker) of a linear model."""
    import mlflow
    from mlflow import MlflowClient
    from mlflow.models import infer_signature
    from sklearn.linear_model import LogisticRegression, Ridge

    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment("benchmarks")
    features = train.drop(columns=[LABEL])
    for strength in (0.001, 1.0):
        model = (
            LogisticRegression(C=strength, max_iter=1000)
            if kind == "classifier"
            else Ridge(alpha=1 / strength)
        ).fit(features, train[LABEL])
        with mlflow.start_run(run_name=f"train {strength}"):
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                signature=infer_signature(features, model.predict(features)),
            )
    MlflowClient(tracking_uri).set_registered_model_alias(name, "champion", "1")


def baseline(uri: str, frame: Any, kind: str) -> float:
    """Seconds of load + plain mlflow.models.evaluate in a new run."""
    import mlflow

    started = time.perf_counter()
    model = mlflow.pyfunc.load_model(uri)
    with mlflow.start_run(run_name="baseline evaluate"):
        mlflow.models.evaluate(
            model,
            frame,
            targets=LABEL,
            model_type=kind,
            evaluator_config={"log_model_explainability": False},
        )
    return time.perf_counter() - started


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("-n", "--rows", type=int, default=100_000)
    args.add_argument("--type", choices=["classifier", "regressor"], default="classifier")
    args.add_argument("--state-dir", default="", help="use the platform running there")
    args.add_argument("--repeat", type=int, default=3, help="alternated repetitions (median)")
    options = args.parse_args()

    with ExitStack() as stack:
        tracking_uri = tracking_server(stack, options.state_dir)
        from jupyter_mlplat.config import MLPlat
        from jupyter_mlplat.reports.evaluate import evaluate
        from jupyter_mlplat.reports.index import SqliteIndex
        from jupyter_mlplat.reports.service import ReportsService

        name = f"bench_report_{uuid.uuid4().hex[:6]}"
        train, frame = holdout(options.rows, options.type)
        register(tracking_uri, train, options.type, name)
        config = MLPlat(env={}, tracking_uri=tracking_uri, reports_row_cap=options.rows)
        uri = f"models:/{name}/2"
        baseline(uri, frame.head(200), options.type)  # warm-up: imports, first plots

        # alternated, medians: the machine's load shifts during a run
        bases, plains = [], []
        for _ in range(options.repeat):
            bases.append(baseline(uri, frame, options.type))
            plains.append(evaluate(uri, frame, label=LABEL, against=None, config=config))
        base_seconds = statistics.median(bases)
        plain = sorted(plains, key=lambda e: e.seconds["total"])[len(plains) // 2]
        folder = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlplat-idx-")))
        service = ReportsService(config, index=SqliteIndex(folder / "reports.sqlite"))
        started = time.perf_counter()
        indexed = service.sync()
        index_seconds = time.perf_counter() - started
        found = service.search(f"model:{name} version:2")["reports"]
        assert indexed >= 1 and found and found[0]["id"] == plain.id
        with_new_champion = evaluate(uri, frame, label=LABEL, config=config)
        with_champion = evaluate(uri, frame, label=LABEL, config=config)

        split = plain.seconds
        total = split["total"] + index_seconds
        print(f"holdout: {options.rows:,} rows, {options.type} ({uri}), MLflow {tracking_uri}")
        print(
            f"baseline: load + mlflow.models.evaluate: {base_seconds:.2f} s "
            f"(median of {options.repeat}; load average {os.getloadavg()[0]:.1f})"
        )
        print(
            f"report (no champion): {total:.2f} s = load {split['load']:.2f} "
            f"(resolve, digest, model) + evaluate {split['evaluate']:.2f} "
            f"+ render {split['render']:.2f} (plots, json, html) + log {split['log']:.2f} "
            f"+ indexing {index_seconds:.3f} (sync of {indexed} report(s))"
        )
        print(f"ratio (report ÷ baseline): {total / base_seconds:.2f}")
        print(
            f"with the champion diff: {with_new_champion.seconds['total']:.2f} s when the "
            f"champion is evaluated now, {with_champion.seconds['total']:.2f} s when its "
            f"report on the same digest is reused "
            f"(champion lookup {with_champion.seconds.get('champion', 0):.3f} s)"
        )
        size = len(plain.html.encode()) / 1024
        print(f"report.html: {size:.0f} KiB, {len(plain.report['plots'])} plots embedded")


if __name__ == "__main__":
    main()
