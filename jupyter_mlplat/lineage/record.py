"""How lineage is kept in MLflow (the one owner of this schema).

A table a run read is a dataset input of the run: name = ``db.table``, digest = the table's
snapshot digest (``catalog.snapshot``), source = a Spark table source, schema = MLflow's colspec,
input tag ``mlflow.data.context`` = ``training``. A table a run wrote is recorded the same way
with context ``output`` (MLflow has dataset outputs only for models): MLflow answers both,
``datasets.name = 'demo.iris'`` and ``datasets.context = 'output'`` in ``search_runs``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from jupyter_mlplat.catalog.snapshot import Snapshot

#: ``mlflow.data.context`` of the tables a run read, and of those it wrote.
INPUT_CONTEXT = "training"
OUTPUT_CONTEXT = "output"
CONTEXT_TAG = "mlflow.data.context"  # mlflow.utils.mlflow_tags.MLFLOW_DATASET_CONTEXT


@dataclass(frozen=True)
class Recorded:
    """A table as a run recorded it."""

    table: str
    digest: str
    context: str
    schema: list[dict[str, str]]


def mlflow_schema(snapshot: Snapshot) -> str | None:
    """The dataset schema as MLflow's Spark datasets write it (``{"mlflow_colspec": ...}``)."""
    if snapshot.struct is None:
        columns = [{"name": n, "type": t} for n, t in snapshot.columns]
        return json.dumps({"mlflow_colspec": columns})
    try:
        from mlflow.types.schema import ColSpec, Schema
        from mlflow.types.utils import _infer_spark_type

        schema = Schema(
            [
                ColSpec(type=_infer_spark_type(f.dataType), name=f.name)
                for f in snapshot.struct.fields
            ]
        )
        return json.dumps({"mlflow_colspec": schema.to_dict()})
    except Exception:  # a type MLflow has no name for: keep Spark's names
        columns = [{"name": n, "type": t} for n, t in snapshot.columns]
        return json.dumps({"mlflow_colspec": columns})


def dataset_input(snapshot: Snapshot, table: str, context: str) -> Any:
    """The ``mlflow.entities.DatasetInput`` recording ``table`` in ``context``."""
    from mlflow.data.spark_dataset_source import SparkDatasetSource
    from mlflow.entities import Dataset, DatasetInput, InputTag

    source = SparkDatasetSource(table_name=table)
    dataset = Dataset(
        name=table,
        digest=snapshot.digest,
        source_type=source._get_source_type(),
        source=source.to_json(),
        schema=mlflow_schema(snapshot),
        profile=json.dumps({"files": snapshot.files}),
    )
    return DatasetInput(dataset=dataset, tags=[InputTag(key=CONTEXT_TAG, value=context)])


def recorded(run: Any) -> list[Recorded]:
    """The tables an MLflow run recorded (from ``run.inputs.dataset_inputs``)."""
    found = []
    for item in getattr(getattr(run, "inputs", None), "dataset_inputs", None) or []:
        dataset = item.dataset
        if dataset.source_type != "spark":
            continue
        context = next((t.value for t in item.tags if t.key == CONTEXT_TAG), "")
        found.append(Recorded(dataset.name, dataset.digest, context, _columns(dataset.schema)))
    return found


def _columns(schema: str | None) -> list[dict[str, str]]:
    try:
        spec = json.loads(schema or "{}").get("mlflow_colspec") or []
    except (ValueError, AttributeError):
        return []
    return [{"name": str(c.get("name", "")), "type": str(c.get("type", ""))} for c in spec]
