"""The demo database a new user finds in the local catalog: real data, with comments.

Filled from datasets that ship inside scikit-learn, so nothing is downloaded.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

DATABASE = "demo"


@dataclass(frozen=True)
class DemoTable:
    """One table: the sklearn loader, its comment, the label column and partitioning."""

    name: str
    loader: str
    comment: str
    target: str
    target_comment: str
    partition_by: str = ""


TABLES = [
    DemoTable("iris", "load_iris", "Fisher's iris flowers: 150 samples, 3 species.",
              "species", "Iris species"),
    DemoTable("iris_by_species", "load_iris", "The iris flowers, partitioned by species.",
              "species", "Iris species (partition column)", partition_by="species"),
    DemoTable("wine", "load_wine", "Chemical analysis of 178 Italian wines from 3 cultivars.",
              "cultivar", "Cultivar class of the wine"),
    DemoTable("breast_cancer", "load_breast_cancer",
              "Wisconsin diagnostic breast cancer: 569 fine needle aspirates, 30 features.",
              "diagnosis", "malignant or benign"),
    DemoTable("diabetes", "load_diabetes",
              "Diabetes progression one year after baseline for 442 patients (scaled features).",
              "progression", "Quantitative measure of disease progression after one year"),
]  # fmt: skip


def column_name(feature: str) -> str:
    """``'sepal length (cm)'`` -> ``'sepal_length_cm'``."""
    return re.sub(r"[^0-9a-zA-Z]+", "_", feature).strip("_").lower()


def frame(table: DemoTable) -> tuple[Any, dict[str, str]]:
    """The table's pandas frame and its column comments."""
    from sklearn import datasets

    bunch = getattr(datasets, table.loader)(as_frame=True)
    data = bunch.frame.copy()
    comments = {}
    for feature in bunch.feature_names:
        comments[column_name(feature)] = str(feature)
    data.columns = [column_name(c) for c in data.columns]
    data = data.rename(columns={"target": table.target})
    if hasattr(bunch, "target_names") and data[table.target].dtype.kind in "iu":
        names = list(bunch.target_names)
        data[table.target] = [str(names[i]) for i in data[table.target]]
    comments[table.target] = table.target_comment
    return data, comments


def seed(spark: Any, on_step: Callable[[str], None] | None = None) -> list[str]:
    """Create the demo database and any missing table; return the tables created.

    ``on_step`` hears what is under way (the first catalog call warms the metastore: slow).
    """
    step = on_step or (lambda text: None)
    step("warming the metastore")
    spark.sql(
        f"CREATE DATABASE IF NOT EXISTS {DATABASE} "
        "COMMENT 'Demo datasets bundled with scikit-learn, ready to query'"
    )
    existing = {row.tableName for row in spark.sql(f"SHOW TABLES IN {DATABASE}").collect()}
    created = []
    missing = [table for table in TABLES if table.name not in existing]
    for number, table in enumerate(missing, 1):
        step(f"creating {DATABASE}.{table.name} ({number}/{len(missing)})")
        data, comments = frame(table)
        columns = [c for c in data.columns if c != table.partition_by]
        if table.partition_by:
            columns.append(table.partition_by)
        data = data[columns]
        ddl = ", ".join(
            f"`{c}` {_sql_type(data[c].dtype)} COMMENT '{_quote(comments.get(c, ''))}'"
            for c in columns
        )
        partition = f" PARTITIONED BY (`{table.partition_by}`)" if table.partition_by else ""
        qualified = f"{DATABASE}.{table.name}"
        spark.sql(
            f"CREATE TABLE {qualified} ({ddl}) USING parquet{partition} "
            f"COMMENT '{_quote(table.comment)}'"
        )
        spark.createDataFrame(data).write.insertInto(qualified)
        spark.sql(f"ANALYZE TABLE {qualified} COMPUTE STATISTICS")
        created.append(qualified)
    return created


def _sql_type(dtype: Any) -> str:
    return {"f": "DOUBLE", "i": "BIGINT", "u": "BIGINT", "b": "BOOLEAN"}.get(dtype.kind, "STRING")


def _quote(text: str) -> str:
    return text.replace("\\", "\\\\").replace("'", "\\'")


def main() -> None:
    """``python -m jupyter_mlplat.spark.demo sc://host:port``: seed the demo database there.

    Run by ``mlplat up`` as a child process, so that the long-running orchestrator never holds
    the Spark Connect client (pyspark, pandas, pyarrow, gRPC: ~150 MB). Prints ``step: ...``
    lines as it goes and ``created: <JSON list>`` at the end.
    """
    import json
    import sys

    from pyspark.sql import SparkSession

    def step(text: str) -> None:
        print(f"step: {text}", flush=True)

    step("connecting to Spark Connect")
    spark = SparkSession.builder.remote(sys.argv[1]).getOrCreate()
    try:
        created = seed(spark, on_step=step)
    finally:
        spark.stop()
    print(f"created: {json.dumps(created)}", flush=True)


if __name__ == "__main__":
    main()
