"""The one search over the local indexes (no MLflow): tables, columns, pipelines; grouping."""

from __future__ import annotations

import pytest

from jupyter_mlplat.catalog.index import CatalogIndex, Column, TableEntry
from jupyter_mlplat.catalog.service import CatalogService
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.search.service import SearchService


@pytest.fixture
def service(tmp_path):
    index = CatalogIndex(":memory:")
    index.replace_database(
        "demo",
        [
            TableEntry("demo", "iris", "Fisher's iris flowers",
                       columns=(Column("species", "string", comment="Iris species"),)),
            TableEntry("demo", "diabetes", "Diabetes progression",
                       columns=(Column("progression", "double",
                                       comment="Quantitative measure of disease"),)),
        ],
    )  # fmt: skip
    pipelines = tmp_path / "pipelines"
    pipelines.mkdir()
    (pipelines / "train_iris.py").write_text("# a DAG file\n")
    config = MLPlat(pipelines_dir=str(pipelines), state_dir=str(tmp_path / "state"))
    catalog = CatalogService(config, backend=None, index=index)  # type: ignore[arg-type]
    return SearchService(config, catalog=catalog)


def grouped(found):
    return {g["kind"]: [r["id"] for r in g["results"]] for g in found["groups"]}


def test_a_column_comment_finds_the_table_and_the_column(service):
    found = service.search("kind:table|column quantitative")
    assert grouped(found) == {"table": ["demo.diabetes"], "column": ["demo.diabetes.progression"]}
    [table] = found["groups"][0]["results"]
    assert table["subtitle"] == "column progression: Quantitative measure of disease"
    assert table["target"] == {"panel": "catalog", "table": "demo.diabetes"}


def test_or_joins_clauses_and_fields_narrow(service):
    found = service.search(
        "kind:table iris OR kind:pipeline train OR table:demo.diabetes kind:table"
    )
    assert grouped(found) == {"pipeline": ["train_iris"], "table": ["demo.iris", "demo.diabetes"]}
    assert grouped(service.search("column:species")) == {"column": ["demo.iris.species"]}


def test_kinds_limits_and_empty_queries(service):
    assert grouped(service.search("iris", kinds="pipeline")) == {"pipeline": ["train_iris"]}
    assert service.search("   ")["groups"] == []
    with pytest.raises(InvalidInput, match="limit"):
        service.search("iris", limit=0)
    with pytest.raises(InvalidInput, match="unknown kind 'flowers'"):
        service.search("iris", kinds="flowers")
