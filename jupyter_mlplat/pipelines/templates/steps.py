"""The task bodies of the template pipelines. Each takes the feature config's path and what the
previous task returned (table names, counts, ``models:/`` URIs and scores: never DataFrames).

Training: read the table -> its quality suite as a blocking gate -> preprocessing checked
against the table -> train (optionally tuning the model's params with Optuna first; a
scikit-learn Pipeline, logged to MLflow) -> evaluate the candidate and the current ``@champion``
on the same holdout -> register with its evaluation report (diffed against the champion), move
``@challenger``, and ``@champion`` only when better -> optionally batch-score a table with the
champion.
"""

from __future__ import annotations

from typing import Any

from jupyter_mlplat.errors import InvalidInput, NotFound
from jupyter_mlplat.pipelines.context import config as platform_config
from jupyter_mlplat.pipelines.context import spark, task_run
from jupyter_mlplat.pipelines.templates.features import NUMERIC_ONLY, FeatureConfig, load

CHAMPION, CHALLENGER = "champion", "challenger"


def read_table(path: str) -> dict[str, Any]:
    """Check the table exists and has the config's columns; its row count."""
    config = load(path)
    if not spark.catalog.tableExists(config.table):
        raise NotFound(f"table {config.table} does not exist")
    columns = list(spark.table(config.table).columns)
    wanted = [config.label, *config.features] if config.trains else []
    missing = [c for c in wanted if c and c not in columns]
    if missing:
        raise InvalidInput(
            f"{config.table} has no column {missing[0]!r} (columns: {', '.join(columns)})"
        )
    return {"table": config.table, "rows": int(spark.table(config.table).count())}


def quality_gate(path: str, data: dict[str, Any]) -> dict[str, Any]:
    """The table against its saved suite; failing expectations fail the task for good (a retry
    would see the same data), so nothing downstream registers or moves an alias."""
    from airflow.sdk.exceptions import AirflowFailException

    from jupyter_mlplat import quality

    config = load(path)
    if not config.quality_suite:
        return data | {"quality": "no suite"}
    with task_run():
        try:
            result = quality.validate(
                spark.table(data["table"]),
                suite=config.quality_suite,
                dataset=data["table"],
                raise_on_failure=True,
            )
        except quality.QualityCheckFailed as err:
            raise AirflowFailException(f"quality gate {config.quality_suite!r}: {err}") from None
    return data | {"quality": f"{config.quality_suite}: {result.summary()}"}


def preprocess(path: str, data: dict[str, Any]) -> dict[str, Any]:
    """Check each transform suits its column and fit the preprocessing on the training rows,
    so a config mistake fails here with its column named, not inside the model's fit."""
    config = load(path)
    frame = _frame(config, data["table"])
    for column, steps in config.features.items():
        numeric = frame[column].dtype.kind in "biuf"
        bad = [s for s in steps if s in NUMERIC_ONLY and not numeric]
        if bad:
            raise InvalidInput(
                f"features.{column}: {bad[0]} needs numbers but {column} holds "
                f"{frame[column].dtype} (use impute_most_frequent, onehot)"
            )
    train, holdout = _split(config, frame)
    features = config.build_model().steps[0][1].fit(train[list(config.features)])
    width = int(features.transform(train[list(config.features)].head(1)).shape[1])
    return data | {"train_rows": len(train), "holdout_rows": len(holdout), "width": width}


def train(path: str, data: dict[str, Any]) -> str:
    """Fit the Pipeline on the training rows and log it to MLflow; its ``models:/`` URI."""
    import mlflow
    from mlflow.models import infer_signature

    config = load(path)
    train_rows, _ = _split(config, _frame(config, data["table"]))
    x, y = train_rows[list(config.features)], train_rows[config.label]
    params, study = _tune(config, x, y) if config.tuning_trials else (config.model_params, None)
    model = config.build_model(params).fit(x, y)
    with task_run():
        if study is not None:
            mlflow.set_tags(
                {
                    "mlplat.pipeline.tuning_study": study.study_name,
                    "mlplat.pipeline.tuning_run_id": study.parent_run_id,
                    "mlplat.pipeline.tuning_best_trial": str(study.best_trial),
                }
            )
        mlflow.log_params(
            {
                "table": data["table"],
                "model_class": config.model_class,
                **{f"model.{k}": v for k, v in params.items()},
                "features": ",".join(config.features),
                "holdout": config.holdout,
                "seed": config.seed,
                "train_rows": len(train_rows),
            }
        )
        info = mlflow.sklearn.log_model(
            model,
            name="model",
            signature=infer_signature(x, model.predict(x)),
            input_example=x[:3],
            skops_trusted_types=_skops_types(model),
        )
        mlflow.set_tag("mlplat.pipeline.model_uri", info.model_uri)
    return str(info.model_uri)


def evaluate(path: str, model_uri: str, data: dict[str, Any]) -> dict[str, Any]:
    """The candidate's and the current ``@champion``'s metric on the same holdout rows."""
    import mlflow

    config = load(path)
    _, holdout = _split(config, _frame(config, data["table"]))
    x, y = holdout[list(config.features)], holdout[config.label]
    candidate = config.score(y, mlflow.pyfunc.load_model(model_uri).predict(x))
    champion_version = _alias_version(config.registered_model, CHAMPION)
    champion = None
    if champion_version is not None:
        reference = f"models:/{config.registered_model}@{CHAMPION}"
        champion = config.score(y, mlflow.pyfunc.load_model(reference).predict(x))
    better = config.beats(candidate, champion)
    with task_run():
        mlflow.log_metric(f"holdout_{config.metric}", candidate)
        if champion is not None:
            mlflow.log_metric(f"champion_holdout_{config.metric}", champion)
    return {
        "model_uri": model_uri,
        "metric": config.metric,
        "candidate": candidate,
        "champion": champion,
        "champion_version": champion_version,
        "better": better,
        "holdout_rows": len(holdout),
        "table": data["table"],
    }


def register(path: str, evaluation: dict[str, Any]) -> dict[str, Any]:
    """Register the candidate, point ``@challenger`` at it and ``@champion`` if it won."""
    import mlflow

    from jupyter_mlplat.pipelines.context import task_tags

    config = load(path)
    client = mlflow.MlflowClient()
    tags = task_tags() | {
        f"mlplat.pipeline.{config.metric}": str(evaluation["candidate"]),
        "mlplat.pipeline.promoted": str(bool(evaluation["better"])).lower(),
    }
    version = mlflow.register_model(evaluation["model_uri"], config.registered_model, tags=tags)
    report = _report(config, str(version.version), evaluation["table"])  # before @champion moves
    client.set_registered_model_alias(config.registered_model, CHALLENGER, version.version)
    if evaluation["better"]:
        client.set_registered_model_alias(config.registered_model, CHAMPION, version.version)
    return {
        "model": f"models:/{config.registered_model}/{version.version}",
        "version": str(version.version),
        "champion": bool(evaluation["better"]),
        "report": report,
    }


def batch_score(path: str, registered: dict[str, Any] | None = None) -> dict[str, Any]:
    """Score a table with the ``@champion`` (or the config's model) into the output table;
    skipped when the config names no output."""
    from airflow.sdk.exceptions import AirflowSkipException

    from jupyter_mlplat.deploy.batch import predict_table

    config = load(path)
    if not config.score_output:
        raise AirflowSkipException("the feature config names no batch_score output")
    model = config.model_uri or f"models:/{config.registered_model}@{CHAMPION}"
    result = predict_table(
        model,
        config.score_table or config.table,
        config.score_output,
        spark=spark,
        mode="overwrite",
        config=platform_config(),
    )
    return {"model": result.model, "output": result.output, "rows": result.rows}


# -- helpers ----------------------------------------------------------------------------------
def _report(config: FeatureConfig, version: str, table: str) -> str:
    """The new version's evaluation report on the holdout rows, diffed against the current
    ``@champion`` (see jupyter_mlplat.reports); its id."""
    from jupyter_mlplat.reports.evaluate import evaluate

    _, holdout = _split(config, _frame(config, table))
    result = evaluate(
        f"models:/{config.registered_model}/{version}",
        holdout,
        label=config.label,
        against=CHAMPION,
        config=platform_config(),
        data_name=table,
    )
    return result.id


def _tune(config: FeatureConfig, x: Any, y: Any) -> tuple[dict[str, Any], Any]:
    """The best model params of the config's search space by 3-fold cross-validation on the
    training rows (never the holdout), tuned with Optuna as one MLflow study run per pipeline
    run; the params and the ``TuningResult``."""
    from sklearn.metrics import make_scorer
    from sklearn.model_selection import cross_val_score

    from jupyter_mlplat.tuning import tune

    scorer = make_scorer(config.score, greater_is_better=True)  # the raw metric, either way

    def objective(trial: Any) -> float:
        model = config.build_model(config.suggest(trial))
        return float(cross_val_score(model, x, y, cv=3, scoring=scorer).mean())

    result = tune(
        objective,
        trials=config.tuning_trials,
        parallel=config.tuning_parallel,
        direction="maximize" if config.higher_is_better else "minimize",
        metric=f"cv_{config.metric}",
        study_name=f"{config.registered_model}-tuning",
        new=True,  # each pipeline run tunes afresh on its own data
        config=platform_config(),
        spark=spark if config.tuning_parallel == "spark" else None,
    )
    return config.model_params | result.best_params, result


def _frame(config: FeatureConfig, table: str) -> Any:
    """The table's label and feature columns as pandas, in a fixed row order (Spark gives no
    order; the holdout must be the same rows in every task and every run)."""
    columns = [config.label, *config.features]
    frame = spark.table(table).select(*columns).toPandas()
    return frame.sort_values(columns, na_position="last", kind="stable").reset_index(drop=True)


def _split(config: FeatureConfig, frame: Any) -> tuple[Any, Any]:
    from sklearn.model_selection import train_test_split

    labels = frame[config.label]
    stratify = None
    if config.template == "classification" and labels.value_counts().min() >= 2:
        stratify = labels
    train_rows, holdout = train_test_split(
        frame, test_size=config.holdout, random_state=config.seed, stratify=stratify
    )
    return train_rows, holdout


def _skops_types(model: Any) -> list[str]:
    """The types skops asks to trust before loading this Pipeline (numpy dtypes the imputers
    and encoders keep): the pipeline built them from the config's classes, so they are."""
    from skops import io

    return list(io.get_untrusted_types(data=io.dumps(model)))


def _alias_version(name: str, alias: str) -> str | None:
    """The version ``alias`` points at, None if the model or alias does not exist yet."""
    import mlflow
    from mlflow.exceptions import MlflowException

    try:
        return str(mlflow.MlflowClient().get_model_version_by_alias(name, alias).version)
    except MlflowException as err:
        if err.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise
