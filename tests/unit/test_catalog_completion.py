"""Completion lookups of the catalog index and service: names by prefix, columns by table."""

from __future__ import annotations

import pytest

from jupyter_mlplat.catalog.index import CatalogIndex, Column, TableEntry
from jupyter_mlplat.catalog.service import CatalogService
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput
from tests.unit.test_catalog_refresh_job import FakeBackend

IRIS_COLUMNS = (Column("sepal_length", "double", comment="cm"), Column("species", "string"))


@pytest.fixture
def index(tmp_path):
    with CatalogIndex(tmp_path / "index.db") as index:
        index.replace_database(
            "demo",
            [
                TableEntry("demo", "iris", comment="flowers", columns=IRIS_COLUMNS),
                TableEntry("demo", "Wine", type="VIEW"),
            ],
            comment="Demo data",
        )
        index.replace_database("default", [TableEntry("default", "iris")])
        index.replace_database("sales", [TableEntry("sales", "demand"), TableEntry("sales", "x")])
        yield index


def texts(found):
    return [item.text for item in found.items]


def test_databases_qualified_names_then_bare_names(index):
    found = index.complete("de")
    assert texts(found) == [
        "default",
        "demo",
        "default.iris",
        "demo.iris",
        "demo.Wine",
        "sales.demand",
    ]
    assert found.complete
    assert found.items[3].to_json() == {
        "text": "demo.iris",
        "kind": "table",
        "database": "demo",
        "name": "iris",
        "comment": "flowers",
        "type": "MANAGED",
    }
    assert found.items[1].to_json()["kind"] == "database"


def test_qualified_prefixes_are_case_insensitive(index):
    assert texts(index.complete("DEMO.")) == ["demo.iris", "demo.Wine"]
    assert texts(index.complete("demo.w")) == ["demo.Wine"]
    assert texts(index.complete("demo.x")) == []
    assert texts(index.complete("iri")) == ["default.iris", "demo.iris"]  # by bare name


def test_the_limit_says_when_matches_were_left_out(index):
    found = index.complete("", limit=2)
    assert len(found.items) == 2 and not found.complete
    assert index.complete("demo.", limit=2).complete
    assert not index.complete("de", limit=3).complete


def test_columns_of_a_qualified_or_bare_table(index):
    assert index.columns_of("demo.iris") == IRIS_COLUMNS
    assert index.columns_of("DEMO.IRIS") == IRIS_COLUMNS
    assert index.columns_of("iris") == ()  # bare names resolve in default first, as in Spark
    assert index.columns_of("wine") == ()  # known, never described
    assert index.columns_of("nowhere") is None


@pytest.fixture
def service(index):
    return CatalogService(MLPlat(), FakeBackend(), index)  # type: ignore[arg-type]


def test_service_checks_its_input(service):
    assert texts(service.completions("demo.i")) == ["demo.iris"]
    for prefix in ["demo.iris.x", "a b", "x'--", "é", "a" * 300]:
        with pytest.raises(InvalidInput):
            service.completions(prefix)
    with pytest.raises(InvalidInput, match="limit"):
        service.completions("d", limit=0)
    assert service.completion_columns(["demo.iris", "iris", "nowhere"]) == {
        "demo.iris": list(IRIS_COLUMNS),
        "iris": [],
    }
    for tables in [[], ["a.b.c"], ["demo.ir is"], ["x"] * 17]:
        with pytest.raises(InvalidInput):
            service.completion_columns(tables)


def test_an_empty_index_starts_a_refresh_and_offers_nothing_yet(tmp_path):
    backend = FakeBackend()
    backend.gate.set()
    with CatalogIndex(tmp_path / "empty.db") as index:
        service = CatalogService(MLPlat(), backend, index)  # type: ignore[arg-type]
        found = service.completions("de")  # returns at once: the refresh runs in a thread
        assert found.items == [] and not found.complete
        assert service.refresh_job.to_json()["state"] in ("running", "done")
        assert service.refresh_job.wait(10)
        assert texts(service.completions("demo.")) == ["demo.iris", "demo.wine"]
        assert service.completion_columns(["demo.iris"]) == {"demo.iris": [Column("id", "bigint")]}
