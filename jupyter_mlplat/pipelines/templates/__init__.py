"""Ready-made ML pipelines: classification and regression training, batch scoring.

``new_pipeline("classification", "demo.iris", "species")`` writes ``<pipelines>/<name>.py`` (the
DAG: one task per step, see ``steps``), ``<name>.yaml`` (the feature config: features and their
transforms, model class and params, metric and margin to promote) and, when the project has no
suite of that name yet, a quality suite ``<name>`` derived from the table. All of it runs as
written and is meant to be edited.
"""

from __future__ import annotations

import json
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import Conflict, InvalidInput, NotFound
from jupyter_mlplat.pipelines.project import (
    PipelineFile,
    dag_header,
    install,
    pipeline_name,
    pipeline_path,
)
from jupyter_mlplat.pipelines.templates.features import (
    DEFAULT_METRICS,
    DEFAULT_MODELS,
    DEFAULT_SEARCH,
    KINDS,
    FeatureConfig,
    render,
)
from jupyter_mlplat.quality import save_suite

NUMERIC_TYPES = ("tinyint", "smallint", "int", "bigint", "float", "double", "decimal")
TEXT_TYPES = ("string", "boolean", "char", "varchar")
#: Most distinct labels a generated suite lists in an ``in [...]`` check.
MAX_LABEL_VALUES = 50

_HEADER = '''\
"""Pipeline {name}: {what}
Written by %mlp pipeline new --template {template}; the settings (features, model, metric,
margin, quality suite) are in {name}.yaml next to this file, the step bodies in
jupyter_mlplat.pipelines.templates.steps. Run it now with `%mlp pipeline run {name}`.
"""

from __future__ import annotations

from pathlib import Path

import pendulum
from airflow.sdk import Asset, dag, task  # noqa: F401

from jupyter_mlplat.pipelines.templates import steps

CONFIG = str(Path(__file__).with_suffix(".yaml"))


{header}
def {name}():
'''

#: The first two steps of every template: the table, then its quality suite as a gate.
_GATED_READ = """\
    @task
    def read_table() -> dict:
        return steps.read_table(CONFIG)

    @task
    def quality_gate(data: dict) -> dict:
        return steps.quality_gate(CONFIG, data)

"""

_TRAINING = """\
    @task
    def preprocess(data: dict) -> dict:
        return steps.preprocess(CONFIG, data)

    @task
    def train(data: dict) -> str:
        return steps.train(CONFIG, data)

    @task
    def evaluate(model_uri: str, data: dict) -> dict:
        return steps.evaluate(CONFIG, model_uri, data)

    @task
    def register(evaluation: dict) -> dict:
        return steps.register(CONFIG, evaluation)

    @task
    def batch_score(registered: dict) -> dict:
        return steps.batch_score(CONFIG, registered)

    data = preprocess(quality_gate(read_table()))
    batch_score(register(evaluate(train(data), data)))
"""

_SCORING = """\
    @task
    def batch_score(data: dict) -> dict:
        return steps.batch_score(CONFIG)

    batch_score(quality_gate(read_table()))
"""

_FOOTER = """

{name}_dag = {name}()

if __name__ == "__main__":
    {name}_dag.test()
"""


def new_pipeline(
    template: str,
    table: str,
    label: str = "",
    *,
    spark: Any,
    name: str = "",
    schedule: str | None = None,
    model: str = "",
    output: str = "",
    config: MLPlat | None = None,
) -> PipelineFile:
    """Write a template pipeline for ``table`` (checked against its schema through ``spark``)."""
    from jupyter_mlplat.deploy.batch import table_name

    config = config or MLPlat()
    if template not in KINDS:
        raise InvalidInput(f"unknown template {template!r}: use one of {', '.join(KINDS)}")
    table = table_name(table, "input")
    short = table.rpartition(".")[2]
    name = pipeline_name(name or f"{short}_{template.replace('-', '_')}")
    columns = _schema(spark, table)
    if template == "batch-scoring":
        if not model.startswith("models:/"):
            raise InvalidInput("the batch-scoring template needs --model models:/<name>@champion")
        features = FeatureConfig(
            template, table, model_uri=model, score_output=output or f"{table}_scored"
        )
        what = f"scores {table} with {model} into {features.score_output}."
    else:
        features = _training_config(template, table, label, columns, name=name, output=output)
        what = f"{template} training on {table} (label {label}), registered as {name}."
    if pipeline_path(config, name).exists():  # after the input's own mistakes are reported
        raise Conflict(
            f"pipeline {name!r} exists ({pipeline_path(config, name)}): "
            "choose another --name or delete the file"
        )
    suite = _suite_text(config, name, features, columns, spark)
    features.quality_suite = name
    header = dag_header(name, schedule, config.resolved_user, retries=1)
    body = _SCORING if template == "batch-scoring" else _TRAINING
    text = (
        _HEADER.format(name=name, what=what, template=template, header=header)
        + _GATED_READ
        + body
        + _FOOTER.format(name=name)
    )
    yaml_text = render(features, f"Feature config of pipeline {name} (template: {template}).")
    written = install(config, {f"{name}.py": text, f"{name}.yaml": yaml_text}, name)
    if suite:  # after the DAG imported: a failed `new` leaves nothing behind
        save_suite(name, suite, config)
    return written


def training_pipelines(config: MLPlat, table: str) -> list[str]:
    """The template pipelines whose feature config trains on ``table`` (``db.t``): what retrains
    the models of a table that changed."""
    from jupyter_mlplat.pipelines.project import pipelines_dir
    from jupyter_mlplat.pipelines.templates.features import load

    found = []
    for path in sorted(pipelines_dir(config).glob("*.yaml")):
        if not path.with_suffix(".py").exists():
            continue
        try:
            features = load(path)
        except InvalidInput:
            continue  # a broken config is reported where the pipeline is used
        if features.trains and features.table.lower() == table.lower():
            found.append(path.stem)
    return found


def _schema(spark: Any, table: str) -> dict[str, str]:
    """Column -> Spark type name of ``table``; a missing table is one line."""
    if not spark.catalog.tableExists(table):
        raise NotFound(f"table {table} does not exist (see %mlp catalog or the Catalog panel)")
    return {f.name: f.dataType.simpleString() for f in spark.table(table).schema.fields}


def _training_config(
    template: str, table: str, label: str, columns: dict[str, str], *, name: str, output: str
) -> FeatureConfig:
    if not label:
        raise InvalidInput(f"the {template} template needs --label <column>")
    if label not in columns:
        raise InvalidInput(f"{table} has no column {label!r} (columns: {', '.join(columns)})")
    if template == "regression" and not _numeric(columns[label]):
        raise InvalidInput(
            f"regression needs a numeric label; {label} is {columns[label]} "
            "(use --template classification)"
        )
    features: dict[str, list[str]] = {}
    for column, kind in columns.items():
        if column == label:
            continue
        if _numeric(kind):
            features[column] = ["impute_median", "standard"]
        elif kind.startswith(TEXT_TYPES):
            features[column] = ["impute_most_frequent", "onehot"]
    if not features:
        raise InvalidInput(f"{table} has no numeric or text column besides {label!r} to learn from")
    model_class, params = DEFAULT_MODELS[template]
    return FeatureConfig(
        template,
        table,
        label=label,
        features=features,
        model_class=model_class,
        model_params=params.copy(),
        metric=DEFAULT_METRICS[template],
        registered_model=name,
        score_output=output,
        search={k: list(v) for k, v in DEFAULT_SEARCH[template].items()},
    )


def _numeric(kind: str) -> bool:
    return kind.startswith(NUMERIC_TYPES)


def _suite_text(
    config: MLPlat, name: str, features: FeatureConfig, columns: dict[str, str], spark: Any
) -> str:
    """Suite ``name`` ("" if the project has one already): the label present and, for a
    classifier, one of the classes seen now; features mostly present; rows present."""
    from jupyter_mlplat.quality import suites
    from jupyter_mlplat.quality.spec import parse

    if name in suites.list_suites(config):
        return ""
    lines = ["rows: between 1 1e12"]
    if features.template == "batch-scoring":
        lines += [f"columns: include [{', '.join(columns)}]"]
    else:
        label_line = f"{features.label}: not_null"
        if features.template == "classification":
            values = [
                row[0]
                for row in spark.table(features.table)
                .select(features.label)
                .distinct()
                .limit(MAX_LABEL_VALUES + 1)
                .collect()
                if row[0] is not None
            ]
            if len(values) <= MAX_LABEL_VALUES:
                label_line += f", in [{', '.join(json.dumps(v) for v in sorted(values))}]"
        lines.append(label_line)
        lines += [f"{column}: not_null mostly=0.95" for column in features.features]
    text = "\n".join(lines)
    parse(text)  # a suite that does not parse fails `new` before anything is written
    return text
