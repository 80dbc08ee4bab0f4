"""The feature config of a template pipeline: a small YAML file next to its DAG file.

It says which table, label and feature columns (each with its transforms), which model class
with which parameters, which saved quality suite gates the data, and which metric and margin
decide whether the new model becomes ``@champion``. Pure Python and scikit-learn: no Airflow.
"""

from __future__ import annotations

import importlib
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlplat.errors import InvalidInput

KINDS = ("classification", "regression", "batch-scoring")
#: Where tuning trials run (see jupyter_mlplat.tuning).
PARALLEL = ("local", "spark", "kubernetes", "none")

#: Transform name -> (scikit-learn class path, keyword arguments). Applied in the listed order.
TRANSFORMS: dict[str, tuple[str, dict[str, Any]]] = {
    "impute_mean": ("sklearn.impute.SimpleImputer", {"strategy": "mean"}),
    "impute_median": ("sklearn.impute.SimpleImputer", {"strategy": "median"}),
    "impute_most_frequent": ("sklearn.impute.SimpleImputer", {"strategy": "most_frequent"}),
    "impute_constant": ("sklearn.impute.SimpleImputer", {"strategy": "constant"}),
    "standard": ("sklearn.preprocessing.StandardScaler", {}),
    "minmax": ("sklearn.preprocessing.MinMaxScaler", {}),
    "robust": ("sklearn.preprocessing.RobustScaler", {}),
    "onehot": ("sklearn.preprocessing.OneHotEncoder", {"handle_unknown": "ignore"}),
    "passthrough": ("", {}),
}
#: Transforms that need numbers.
NUMERIC_ONLY = {"impute_mean", "impute_median", "standard", "minmax", "robust"}

#: Metric -> (scikit-learn scorer function, keyword arguments, higher is better).
METRICS: dict[str, dict[str, tuple[str, dict[str, Any], bool]]] = {
    "classification": {
        "accuracy": ("sklearn.metrics.accuracy_score", {}, True),
        "balanced_accuracy": ("sklearn.metrics.balanced_accuracy_score", {}, True),
        "f1_macro": ("sklearn.metrics.f1_score", {"average": "macro"}, True),
        "f1_weighted": ("sklearn.metrics.f1_score", {"average": "weighted"}, True),
        "precision_macro": ("sklearn.metrics.precision_score", {"average": "macro"}, True),
        "recall_macro": ("sklearn.metrics.recall_score", {"average": "macro"}, True),
    },
    "regression": {
        "rmse": ("sklearn.metrics.root_mean_squared_error", {}, False),
        "mae": ("sklearn.metrics.mean_absolute_error", {}, False),
        "r2": ("sklearn.metrics.r2_score", {}, True),
    },
}

DEFAULT_MODELS: dict[str, tuple[str, dict[str, Any]]] = {
    "classification": ("sklearn.linear_model.LogisticRegression", {"max_iter": 1000}),
    "regression": ("sklearn.linear_model.Ridge", {"alpha": 1.0}),
}
DEFAULT_METRICS = {"classification": "accuracy", "regression": "rmse"}
#: The search space a new template's config offers for its default model (tuning is off until
#: ``tuning.trials`` is set).
DEFAULT_SEARCH: dict[str, dict[str, Any]] = {
    "classification": {"C": [0.01, 100.0, "log"]},
    "regression": {"alpha": [0.001, 100.0, "log"]},
}


@dataclass
class FeatureConfig:
    """A parsed, checked feature config."""

    template: str
    table: str
    label: str = ""
    features: dict[str, list[str]] = field(default_factory=dict)
    model_class: str = ""
    model_params: dict[str, Any] = field(default_factory=dict)
    quality_suite: str = ""
    holdout: float = 0.2
    seed: int = 42
    metric: str = ""
    margin: float = 0.0
    registered_model: str = ""
    model_uri: str = ""  # batch-scoring: the model that scores
    score_table: str = ""  # the table to score ("" = none); defaults to ``table`` for batch
    score_output: str = ""
    tuning_trials: int = 0  # 0: fit the model's params as given; else tune them first
    tuning_parallel: str = "local"
    search: dict[str, Any] = field(default_factory=dict)  # param -> [low, high(, log)] | choices
    source: str = ""

    @property
    def trains(self) -> bool:
        return self.template in METRICS

    @property
    def higher_is_better(self) -> bool:
        return METRICS[self.template][self.metric][2]

    def score(self, truth: Any, predicted: Any) -> float:
        path, kwargs, _ = METRICS[self.template][self.metric]
        return float(_import(path)(truth, predicted, **kwargs))

    def beats(self, candidate: float, champion: float | None) -> bool:
        """Whether ``candidate`` is better than ``champion`` by more than the margin."""
        if champion is None:
            return True
        if self.higher_is_better:
            return candidate > champion + self.margin
        return candidate < champion - self.margin

    def suggest(self, trial: Any) -> dict[str, Any]:
        """The model's params with the search space's ones drawn by an Optuna ``trial``."""
        params = dict(self.model_params)
        for name, space in self.search.items():
            if isinstance(space, dict):
                params[name] = trial.suggest_categorical(name, list(space["choices"]))
                continue
            low, high, *scale = space
            log = scale == ["log"]
            if isinstance(low, int) and isinstance(high, int):
                params[name] = trial.suggest_int(name, low, high, log=log)
            else:
                params[name] = trial.suggest_float(name, float(low), float(high), log=log)
        return params

    def build_model(self, params: dict[str, Any] | None = None) -> Any:
        """The scikit-learn Pipeline: the features' transforms, then the model (with ``params``
        instead of the config's, e.g. a tuned trial's)."""
        from sklearn.compose import ColumnTransformer
        from sklearn.pipeline import Pipeline

        columns = []
        for column, steps in self.features.items():
            transforms = [
                (f"{i}_{name}", _import(TRANSFORMS[name][0])(**TRANSFORMS[name][1]))
                for i, name in enumerate(steps)
                if TRANSFORMS[name][0]
            ]
            columns.append(
                (column, Pipeline(transforms) if transforms else "passthrough", [column])
            )
        features = ColumnTransformer(columns, remainder="drop")
        model = _import(self.model_class)(**(self.model_params if params is None else params))
        return Pipeline([("features", features), ("model", model)])


def load(path: str | Path) -> FeatureConfig:
    """Read and check a feature config; every problem is one line naming the file and field."""
    import yaml

    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text()) or {}
    except OSError as err:
        raise InvalidInput(f"cannot read the feature config {path}: {err.strerror}") from None
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise InvalidInput(
            f"{path}{where}: not valid YAML ({getattr(err, 'problem', err)})"
        ) from None
    if not isinstance(raw, dict):
        raise InvalidInput(f"{path}: expected a mapping of settings")
    return parse(raw, str(path))


def parse(raw: dict[str, Any], source: str = "feature config") -> FeatureConfig:
    """A feature config from its mapping; ``source`` names it in errors."""
    from jupyter_mlplat.deploy.batch import table_name

    def bad(what: str) -> InvalidInput:
        return InvalidInput(f"{source}: {what}")

    template = str(raw.get("template") or "")
    if template not in KINDS:
        raise bad(f"template must be one of {', '.join(KINDS)}, not {template!r}")
    try:
        table = table_name(str(raw.get("table") or ""), "input")
    except InvalidInput as err:
        raise bad(f"table: {err}") from None
    config = FeatureConfig(template=template, table=table, source=source)
    score = raw.get("batch_score") or {}
    if not isinstance(score, dict):
        raise bad("batch_score must be a mapping with 'output' (and optionally 'table')")
    config.score_output = str(score.get("output") or "")
    config.score_table = str(score.get("table") or "")
    for value, what in ((config.score_output, "output"), (config.score_table, "input")):
        if value:
            try:
                table_name(value, what)
            except InvalidInput as err:
                raise bad(f"batch_score: {err}") from None
    config.quality_suite = str(raw.get("quality_suite") or "")
    if template == "batch-scoring":
        config.model_uri = str(raw.get("model") or "")
        if not config.model_uri.startswith("models:/"):
            raise bad("model must be a registered model URI: models:/<name>@champion")
        if not config.score_output:
            raise bad("batch_score.output: name the table the predictions go to")
        config.score_table = config.score_table or table
        return config
    _parse_training(raw, config, bad)
    return config


def _parse_training(raw: dict[str, Any], config: FeatureConfig, bad: Any) -> None:
    template = config.template
    config.label = str(raw.get("label") or "")
    if not config.label:
        raise bad("label: name the column to predict")
    features = raw.get("features")
    if not isinstance(features, dict) or not features:
        raise bad("features: give at least one column with its transforms")
    for column, given in features.items():
        steps = [given] if isinstance(given, str) else list(given or [])
        unknown = [s for s in steps if s not in TRANSFORMS]
        if unknown:
            raise bad(
                f"features.{column}: unknown transform {unknown[0]!r} "
                f"(known: {', '.join(TRANSFORMS)})"
            )
        if str(column) == config.label:
            raise bad(f"features.{column}: the label cannot be a feature")
        config.features[str(column)] = [str(s) for s in steps]
    model = raw.get("model") or {}
    if not isinstance(model, dict) or not model.get("class"):
        raise bad("model: give class (e.g. sklearn.linear_model.LogisticRegression) and params")
    config.model_class = str(model["class"])
    config.model_params = dict(model.get("params") or {})
    try:
        cls = _import(config.model_class)
    except InvalidInput as err:
        raise bad(f"model.class: {err}") from None
    if not (hasattr(cls, "fit") and hasattr(cls, "predict")):
        raise bad(f"model.class: {config.model_class} has no fit/predict")
    config.holdout = float(raw.get("holdout", 0.2))
    if not 0.05 <= config.holdout <= 0.5:
        raise bad(f"holdout must be between 0.05 and 0.5, not {config.holdout}")
    config.seed = int(raw.get("seed", 42))
    promote = raw.get("promote") or {}
    config.metric = str(promote.get("metric") or DEFAULT_METRICS[template])
    if config.metric not in METRICS[template]:
        raise bad(
            f"promote.metric: {config.metric!r} is not a {template} metric "
            f"(known: {', '.join(METRICS[template])})"
        )
    config.margin = float(promote.get("margin", 0.0))
    if config.margin < 0:
        raise bad("promote.margin cannot be negative")
    config.registered_model = str(raw.get("registered_model") or "")
    if not config.registered_model:
        raise bad("registered_model: name the registered model to create versions of")
    _parse_tuning(raw.get("tuning") or {}, config, bad)


def _parse_tuning(tuning: Any, config: FeatureConfig, bad: Any) -> None:
    if not isinstance(tuning, dict):
        raise bad("tuning must be a mapping with trials, parallel and search")
    trials = tuning.get("trials") or 0
    if not isinstance(trials, int) or trials < 0:
        raise bad(f"tuning.trials must be a whole number >= 0, not {trials!r}")
    config.tuning_trials = trials
    config.tuning_parallel = str(tuning.get("parallel") or "local")
    if config.tuning_parallel not in PARALLEL:
        raise bad(f"tuning.parallel must be one of {', '.join(PARALLEL)}")
    search = tuning.get("search") or {}
    if not isinstance(search, dict):
        raise bad("tuning.search must map model params to [low, high(, log)] or {choices}")
    for name, space in search.items():
        where = f"tuning.search.{name}"
        if isinstance(space, dict):
            if not isinstance(space.get("choices"), list) or not space["choices"]:
                raise bad(f"{where}: give a non-empty list under choices")
            continue
        numbers = (
            isinstance(space, list)
            and len(space) in (2, 3)
            and all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in space[:2])
        )
        if not numbers or space[2:] not in ([], ["log"]):
            raise bad(f'{where}: use [low, high], [low, high, "log"] or {{choices: [...]}}')
        if not space[0] < space[1] or (space[2:] == ["log"] and space[0] <= 0):
            raise bad(f"{where}: low must be below high (and above 0 on a log scale)")
    if trials and not search:
        raise bad("tuning.search: name at least one model param to tune")
    config.search = dict(search)


def render(config: FeatureConfig, title: str) -> str:
    """The YAML text of a config, with comments that say what each setting does (values are
    written as JSON, which YAML reads as is)."""

    def j(value: Any) -> str:
        return json.dumps(value)

    lines = [f"# {title}", "# Edit and re-run; the DAG file reads this at every run.", ""]
    lines += [f"template: {j(config.template)}", f"table: {j(config.table)}"]
    if config.template == "batch-scoring":
        lines += [
            "# the registered model that scores (an alias is resolved once per run)",
            f"model: {j(config.model_uri)}",
        ]
    else:
        known = " | ".join(TRANSFORMS)
        lines += [
            f"label: {j(config.label)}",
            f"# each feature column with its transforms, applied in order: {known}",
            "features:",
            *(f"  {j(column)}: {j(steps)}" for column, steps in config.features.items()),
            "model:",
            f"  class: {j(config.model_class)}",
            f"  params: {j(config.model_params)}",
            "# rows kept out of training; the candidate and @champion are scored on the same rows",
            f"holdout: {config.holdout}",
            f"seed: {config.seed}",
            f"# metrics: {', '.join(METRICS[config.template])}",
            "# @champion moves only when the new model beats it by more than the margin",
            "promote:",
            f"  metric: {j(config.metric)}",
            f"  margin: {config.margin}",
            f"registered_model: {j(config.registered_model)}",
            "# optional: tune model params with Optuna before training (trials: 0 = off); trials",
            "# run in parallel (local | spark | kubernetes | none), in MLflow under one study run;",
            '# a search entry is [low, high], [low, high, "log"] or {"choices": [...]}',
            "tuning:",
            f"  trials: {config.tuning_trials}",
            f"  parallel: {j(config.tuning_parallel)}",
            f"  search: {j(config.search)}",
        ]
    lines += [
        "# saved suite (quality/suites/<name>.txt) the table must pass before anything else runs",
        f"quality_suite: {j(config.quality_suite or None)}",
    ]
    if config.template == "batch-scoring":
        lines += ["batch_score:", f"  output: {j(config.score_output)}"]
    else:
        lines += [
            "# optional: score a table with the @champion after training (null: skip)",
            "batch_score:",
            f"  table: {j(config.score_table or None)}",
            f"  output: {j(config.score_output or None)}",
        ]
    return "\n".join(lines) + "\n"


def _import(path: str) -> Any:
    module, _, name = path.rpartition(".")
    try:
        return getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError, ValueError):
        raise InvalidInput(f"cannot import {path!r}") from None
