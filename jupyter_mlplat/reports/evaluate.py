"""Evaluate a registered model version on a holdout and attach a report to it.

``evaluate("models:/iris@challenger", "demo.iris", label="species")`` reads the holdout (a
Spark table with a row cap, or a pandas frame), runs ``mlflow.models.evaluate`` in a new run of
the model's experiment (metrics and mlflow's plots per model type; residual plots added for
regressors), compares with the champion evaluated on the same holdout digest (its existing
report with that digest, else evaluated now), and logs ``report/report.json`` and
``report/report.html`` to the run; the model version's tag ``mlplat.report.run_id`` names it.

Callable from a kernel (``%mlp evaluate``) or a pipeline task (configuration from ``MLP_*``).
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import logging
import math
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, MLPlatError, NotFound, Unavailable
from jupyter_mlplat.quality.record import KIND_TAG, results_of_run
from jupyter_mlplat.reports import compare, record, render

if TYPE_CHECKING:
    from mlflow import MlflowClient

log = logging.getLogger(__name__)

MODEL_TYPES = ("classifier", "regressor")
#: A label with at most this many distinct integer values is taken for classes.
MAX_CLASSES = 20
PLOT_TITLES = {
    "confusion_matrix": "Confusion matrix",
    "roc_curve_plot": "ROC curve",
    "precision_recall_curve_plot": "Precision-recall curve",
    "calibration_curve_plot": "Calibration curve",
    "lift_curve_plot": "Lift curve",
    "residuals": "Residuals against predictions",
    "predicted_vs_actual": "Predicted against actual",
    "residuals_histogram": "Distribution of residuals",
}


@dataclass
class Holdout:
    """The rows a model is evaluated on."""

    frame: Any  # pandas.DataFrame, label column included
    table: str  # db.table, or dataframe:<name>
    label: str
    digest: str

    @property
    def rows(self) -> int:
        return len(self.frame)


@dataclass
class Evaluation:
    """What :func:`evaluate` made: the report (report.json's dict), its page and timings."""

    report: dict[str, Any]
    html: str
    seconds: dict[str, float] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return str(self.report["id"])


def evaluate(
    model_uri: str,
    data: Any,
    *,
    label: str | None = None,
    against: str | None = "champion",
    row_cap: int | None = None,
    config: MLPlat | None = None,
    spark: Any = None,
    data_name: str = "dataframe",
) -> Evaluation:
    """Evaluate ``model_uri`` (``models:/name@alias`` or ``models:/name/3``) on ``data`` (a
    table name read through ``spark``, a pandas or Spark DataFrame) and attach a report.

    ``against`` names the alias to compare with (``"champion"``, ``"@prod"``), or None / "none"
    for no comparison. Errors are one-line ``MLPlatError`` subclasses; nothing is logged
    before the input is known to be good.
    """
    config = config or MLPlat()
    cap = config.reports_row_cap if row_cap is None else row_cap
    if isinstance(cap, bool) or not isinstance(cap, int) or cap < 1:
        raise InvalidInput(f"the row cap must be a positive whole number, not {cap!r}")
    alias = _against(against)
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    from jupyter_mlplat.deploy.registry import client_for

    client = client_for(config)
    ref = resolve(config, client, model_uri)
    _use_tracking(config)
    inputs = _model_inputs(f"models:/{ref.name}/{ref.version}") if label is None else None
    holdout = load_holdout(
        data, label, cap, spark=spark, config=config, data_name=data_name, model_inputs=inputs
    )
    seconds["load"] = time.perf_counter() - started

    run = _Run(config, client, seconds)
    champion, note = None, ""
    if alias is not None:
        champion, note = _champion(run, ref, alias, holdout)
    evaluation = _evaluate_version(run, ref, holdout, champion=champion, note=note)
    seconds["total"] = time.perf_counter() - started
    evaluation.seconds = seconds
    return evaluation


@dataclass(frozen=True)
class VersionRef:
    """A registered model version and the run that trained it."""

    name: str
    version: str
    run_id: str


def resolve(config: MLPlat, client: MlflowClient, model_uri: str) -> VersionRef:
    """``models:/name@alias`` or ``models:/name/3`` → the version now (NotFound: one line)."""
    from jupyter_mlplat.deploy.batch import pinned_version

    name, _, version = pinned_version(config, model_uri)[len("models:/") :].rpartition("/")
    found = client.get_model_version(name, version)
    return VersionRef(name, version, found.run_id or "")


def _against(against: str | None) -> str | None:
    if against is None:
        return None
    alias = against.strip().lstrip("@")
    if alias.lower() in ("", "none"):
        return None
    if not alias.replace("-", "").replace("_", "").isalnum():
        raise InvalidInput(f"invalid alias {against!r} to compare with: use @champion or none")
    return alias


def _model_inputs(uri: str) -> list[str] | None:
    """The input column names of the model's signature (to tell the label apart), if any."""
    import mlflow

    with contextlib.suppress(Exception):
        signature = mlflow.models.get_model_info(uri).signature
        if signature is not None and signature.inputs is not None:
            return [str(name) for name in signature.inputs.input_names()]
    return None


def _use_tracking(config: MLPlat) -> None:
    """Point mlflow's fluent API (which mlflow.models.evaluate uses) at the platform's server."""
    import mlflow

    if config.tracking_uri and mlflow.get_tracking_uri() != config.tracking_uri:
        mlflow.set_tracking_uri(config.tracking_uri)
        mlflow.set_registry_uri(config.tracking_uri)


# -- the holdout ----------------------------------------------------------------------------


def load_holdout(
    data: Any,
    label: str | None,
    row_cap: int,
    *,
    spark: Any = None,
    config: MLPlat | None = None,
    data_name: str = "dataframe",
    model_inputs: list[str] | None = None,
) -> Holdout:
    """The holdout rows as pandas: a table (read through Spark, at most ``row_cap`` rows),
    a Spark DataFrame or a pandas frame. ``label`` must be one of its columns."""
    if isinstance(data, str):
        from jupyter_mlplat.deploy.batch import table_name

        table = table_name(data, "holdout")
        spark = spark if spark is not None else _session(config or MLPlat())
        if not _spark(lambda: spark.catalog.tableExists(table)):
            raise NotFound(f"table {table} does not exist")
        frame = _spark(lambda: spark.table(table).limit(row_cap).toPandas())
        name = table
    elif hasattr(data, "toPandas") and hasattr(data, "limit"):
        frame = _spark(lambda: data.limit(row_cap).toPandas())
        name = f"dataframe:{data_name}"
    elif hasattr(data, "columns") and hasattr(data, "head"):
        frame = data.head(row_cap)
        name = f"dataframe:{data_name}"
    else:
        raise InvalidInput(
            f"cannot evaluate on a {type(data).__name__}: give a table name or a DataFrame"
        )
    if len(frame) == 0:
        raise InvalidInput(f"the holdout {name} has no rows")
    columns = [str(c) for c in frame.columns]
    if label is None:
        label = _guess_label(columns, model_inputs, name)
    if label not in columns:
        raise InvalidInput(
            f"the holdout {name} has no column {label!r} (columns: {', '.join(columns[:20])})"
        )
    return Holdout(frame, name, label, digest(frame))


def _guess_label(columns: list[str], model_inputs: list[str] | None, name: str) -> str:
    """The one column the model does not take as input, else the demo table's label."""
    if model_inputs:
        rest = [c for c in columns if c not in model_inputs]
        if len(rest) == 1:
            return rest[0]
    from jupyter_mlplat.spark import demo

    for table in demo.TABLES:
        if name == f"{demo.DATABASE}.{table.name}" and table.target in columns:
            return table.target
    raise InvalidInput(f"which column of {name} is the label? give it with --label")


def digest(frame: Any) -> str:
    """A stable hash of the rows: the same rows give the same digest in any order (a Spark read
    need not keep it), with the columns in name order."""
    import pandas as pd

    columns = sorted(frame.columns, key=str)
    hashes = pd.util.hash_pandas_object(frame[columns], index=False).to_numpy().copy()
    hashes.sort()
    h = hashlib.sha256(json.dumps([str(c) for c in columns]).encode())
    h.update(hashes.tobytes())
    return h.hexdigest()


def _session(config: MLPlat) -> Any:
    """A Spark Connect session to the configured Spark (a pipeline task has no kernel's)."""
    from pyspark.sql.connect.session import SparkSession

    active = SparkSession.getActiveSession()
    if active is not None:
        return active
    from jupyter_mlplat.spark.session import SparkSessions

    return SparkSessions(config).attach()


def _spark(call: Any) -> Any:
    """Run a Spark call; its errors become one line."""
    try:
        return call()
    except MLPlatError:
        raise
    except Exception as err:
        first = next((line for line in str(err).splitlines() if line.strip()), repr(err))
        raise Unavailable(f"Spark: {first.strip()[:300]}") from None


# -- the champion ---------------------------------------------------------------------------


@dataclass
class _Run:
    """What one evaluate() call works with."""

    config: MLPlat
    client: MlflowClient
    seconds: dict[str, float]


def _champion(
    run: _Run, ref: VersionRef, alias: str, holdout: Holdout
) -> tuple[dict[str, Any] | None, str]:
    """The champion's metrics on this holdout digest (its report reused, else made now)."""
    client = run.client
    try:
        champion = resolve(run.config, client, f"models:/{ref.name}@{alias}")
    except NotFound:
        return None, f"Model {ref.name} has no @{alias} version: nothing to compare with."
    if champion.version == ref.version:
        return None, f"This version is the @{alias} itself: nothing to compare with."
    started = time.perf_counter()
    existing = _report_on(client, champion, holdout.digest)
    if existing is not None:
        report_id, metrics = existing.info.run_id, dict(existing.data.metrics)
    else:
        made = _evaluate_version(_Run(run.config, client, {}), champion, holdout)
        report_id, metrics = made.id, made.report["metrics"]
    run.seconds["champion"] = time.perf_counter() - started
    return {
        "version": champion.version,
        "alias": alias,
        "report_id": report_id,
        "metrics": metrics,
    }, ""


def _report_on(client: MlflowClient, ref: VersionRef, holdout_digest: str) -> Any:
    """The newest finished report of version ``ref`` on the holdout with this digest."""
    if "'" in ref.name:
        return None  # not expressible in a filter: evaluate the champion anew
    query = (
        f"tags.`{KIND_TAG}` = '{record.KIND}' and tags.`{record.MODEL_TAG}` = '{ref.name}' "
        f"and tags.`{record.VERSION_TAG}` = '{ref.version}' "
        f"and tags.`{record.DIGEST_TAG}` = '{holdout_digest}' and attributes.status = 'FINISHED'"
    )
    experiment = _experiment_of(client, ref)
    runs = client.search_runs(
        [experiment], filter_string=query, max_results=1, order_by=["start_time DESC"]
    )
    return runs[0] if runs else None


def _experiment_of(client: MlflowClient, ref: VersionRef) -> str:
    """The experiment of the version's training run; else the platform's reports experiment."""
    if ref.run_id:
        with contextlib.suppress(Exception):
            return str(client.get_run(ref.run_id).info.experiment_id)
    from jupyter_mlplat.tracking.experiments import get_or_create_experiment

    return get_or_create_experiment(client, "mlplat-evaluation-reports")


# -- one evaluation -------------------------------------------------------------------------


def _evaluate_version(
    run: _Run,
    ref: VersionRef,
    holdout: Holdout,
    *,
    champion: dict[str, Any] | None = None,
    note: str = "",
) -> Evaluation:
    import mlflow

    client, seconds = run.client, run.seconds

    started = time.perf_counter()
    pinned = f"models:/{ref.name}/{ref.version}"
    try:
        model = mlflow.pyfunc.load_model(pinned)
    except Exception as err:
        raise Unavailable(f"cannot load {pinned}: {str(err).splitlines()[0][:300]}") from None
    model_type = infer_model_type(model, holdout.frame[holdout.label])
    training = _training_run(client, ref.run_id)
    experiment_id = _experiment_of(client, ref)
    tags = {
        KIND_TAG: record.KIND,
        record.MODEL_TAG: ref.name,
        record.VERSION_TAG: ref.version,
        record.TABLE_TAG: holdout.table,
        record.DIGEST_TAG: holdout.digest,
        record.ROWS_TAG: str(holdout.rows),
        record.LABEL_TAG: holdout.label,
        record.TYPE_TAG: model_type,
    }
    evaluator_config: dict[str, Any] = {"log_model_explainability": False}
    if model_type == "classifier":
        classes = holdout.frame[holdout.label].dropna().unique()
        if len(classes) == 2 and not set(classes) <= {0, 1}:
            evaluator_config["pos_label"] = sorted(classes, key=str)[-1]
    seconds.setdefault("load", 0.0)
    seconds["load"] += time.perf_counter() - started
    with mlflow.start_run(
        experiment_id=experiment_id,
        run_name=f"evaluate {ref.name} v{ref.version}",
        tags=tags,
        nested=mlflow.active_run() is not None,
    ) as active:
        started = time.perf_counter()
        try:
            result = mlflow.models.evaluate(
                model,
                holdout.frame,
                targets=holdout.label,
                model_type=model_type,
                evaluator_config=evaluator_config,
            )
        except Exception as err:
            text = next((ln for ln in str(err).splitlines() if ln.strip()), repr(err))
            raise InvalidInput(f"evaluating {pinned} on {holdout.table} failed: {text}") from None
        seconds["evaluate"] = time.perf_counter() - started
        started = time.perf_counter()
        metrics = {k: float(v) for k, v in result.metrics.items() if _finite(v)}
        plots = _plots(result.artifacts)
        if model_type == "regressor":
            plots += _regression_plots(model, holdout)
        report = {
            "id": active.info.run_id,
            "created": record.iso(active.info.start_time),
            "model": {
                "name": ref.name,
                "version": ref.version,
                "run_id": ref.run_id,
                "uri": pinned,
            },
            "model_type": model_type,
            "holdout": {
                "table": holdout.table,
                "rows": holdout.rows,
                "digest": holdout.digest,
                "label": holdout.label,
            },
            "metrics": metrics,
            "plots": plots,
            "quality": results_of_run(*training) if training else [],
            "champion": None,
        }
        _compare(report, champion, note)
        page = render.html(report)
        seconds["render"] = time.perf_counter() - started
        started = time.perf_counter()
        for plot in plots:
            if plot.get("added"):
                mlflow.log_image(_png_image(plot["png_base64"]), plot["artifact"])
                del plot["added"]
        mlflow.log_text(json.dumps(report, indent=1), record.JSON_ARTIFACT)
        mlflow.log_text(page, record.HTML_ARTIFACT)
    client.set_model_version_tag(ref.name, ref.version, record.VERSION_REPORT_TAG, report["id"])
    seconds["log"] = time.perf_counter() - started
    return Evaluation(report, page)


def _compare(report: dict[str, Any], champion: dict[str, Any] | None, note: str) -> None:
    """Put the champion diff in the report and its summary in a tag of the active run."""
    import mlflow

    if champion is None:
        if note:
            report["champion_note"] = note
        return
    rows = compare.diff(report["metrics"], champion["metrics"])
    verdict = compare.summary(rows)  # {"verdict", "verdict_counts"}
    report["champion"] = champion | verdict | {"diff": rows}
    summary = {k: champion[k] for k in ("version", "alias", "report_id")} | verdict
    mlflow.set_tag(record.CHAMPION_TAG, json.dumps(summary))


def _finite(value: Any) -> bool:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return False
    return math.isfinite(number)


def _training_run(client: MlflowClient, run_id: str) -> tuple[dict[str, float], dict[str, str]]:
    """The training run's metrics and tags (empty when it is gone)."""
    if not run_id:
        return {}, {}
    try:
        run = client.get_run(run_id)
    except Exception:
        return {}, {}
    return dict(run.data.metrics), dict(run.data.tags)


def infer_model_type(model: Any, labels: Any) -> str:
    """classifier or regressor: from the model when it says (scikit-learn's estimator type),
    else from the label (text, booleans or a few whole numbers are classes)."""
    raw = None
    with contextlib.suppress(Exception):
        raw = model.get_raw_model()
    estimator_type = getattr(raw, "_estimator_type", None)
    if estimator_type is None and raw is not None:
        with contextlib.suppress(Exception):
            estimator_type = raw.__sklearn_tags__().estimator_type
    if estimator_type in MODEL_TYPES:
        return str(estimator_type)
    kind = getattr(labels.dtype, "kind", "O")
    if kind in "OSUb" or str(labels.dtype) == "category":
        return "classifier"
    if kind in "iu" and labels.nunique() <= MAX_CLASSES:
        return "classifier"
    return "regressor"


# -- plots ----------------------------------------------------------------------------------


def _plots(artifacts: dict[str, Any]) -> list[dict[str, Any]]:
    """mlflow's image artifacts as embedded PNGs (name, title, png_base64, artifact path)."""
    plots = []
    for name, artifact in sorted(artifacts.items()):
        content = None
        with contextlib.suppress(Exception):
            content = artifact.content
        if content is None or not hasattr(content, "save"):
            continue  # tables (per-class metrics) and anything not an image
        buffer = io.BytesIO()
        content.save(buffer, format="PNG")
        plots.append(
            {
                "name": name,
                "title": PLOT_TITLES.get(name, name.replace("_", " ").capitalize()),
                "png_base64": base64.b64encode(buffer.getvalue()).decode(),
                "artifact": str(getattr(artifact, "uri", "")).rpartition("/artifacts/")[2]
                or f"{name}.png",
            }
        )
    return plots


def _regression_plots(model: Any, holdout: Holdout) -> list[dict[str, Any]]:
    """What mlflow 3 does not draw for regressors: residuals against predictions, predicted
    against actual, and the residuals' histogram (matplotlib, off-screen)."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import numpy as np
    from matplotlib.figure import Figure

    features = holdout.frame.drop(columns=[holdout.label])
    actual = holdout.frame[holdout.label].to_numpy(dtype=float)
    predicted = np.asarray(model.predict(features), dtype=float).reshape(-1)
    residuals = actual - predicted
    if len(actual) > 20_000:  # a scatter of 20k points says as much and draws 5x faster
        keep = np.random.default_rng(0).choice(len(actual), 20_000, replace=False)
        actual, predicted, residuals = actual[keep], predicted[keep], residuals[keep]
    plots = []
    for name in ("residuals", "predicted_vs_actual", "residuals_histogram"):
        figure = Figure(figsize=(6, 4.5), dpi=80)
        axes = figure.subplots()
        if name == "residuals":
            axes.scatter(predicted, residuals, s=6, alpha=0.5)
            axes.axhline(0, color="#cf222e", linewidth=1)
            axes.set(xlabel="predicted", ylabel="actual - predicted")
        elif name == "predicted_vs_actual":
            axes.scatter(actual, predicted, s=6, alpha=0.5)
            low, high = (
                float(min(actual.min(), predicted.min())),
                float(max(actual.max(), predicted.max())),
            )
            axes.plot([low, high], [low, high], color="#cf222e", linewidth=1)
            axes.set(xlabel="actual", ylabel="predicted")
        else:
            axes.hist(residuals, bins=40)
            axes.set(xlabel="actual - predicted", ylabel="rows")
        axes.set_title(PLOT_TITLES[name])
        figure.tight_layout()
        buffer = io.BytesIO()
        figure.savefig(buffer, format="png")
        plots.append(
            {
                "name": name,
                "title": PLOT_TITLES[name],
                "png_base64": base64.b64encode(buffer.getvalue()).decode(),
                "artifact": f"{record.ARTIFACT_DIR}/{name}.png",
                "added": True,
            }
        )
    return plots


def _png_image(data: str) -> Any:
    from PIL import Image

    return Image.open(io.BytesIO(base64.b64decode(data)))
