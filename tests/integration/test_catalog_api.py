"""The catalog REST API on the real platform: the demo database read through Spark Connect."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration


def get(lab, path, **params):
    return lab.api("GET", f"mlplat/api/catalog/{path}", params=params)


def test_demo_database_is_listed_with_its_tables(lab):
    databases = {d["name"]: d for d in get(lab, "databases").json()["databases"]}
    assert databases["demo"]["table_count"] >= 5
    tables = {t["name"]: t for t in get(lab, "databases/demo/tables").json()["tables"]}
    assert {"iris", "wine", "breast_cancer", "diabetes", "iris_by_species"} <= set(tables)
    assert "iris" in tables["iris"]["comment"].lower()


def test_search_finds_names_typos_and_columns(lab):
    hits = get(lab, "search", q="iri").json()["results"]
    assert hits[0]["database"] == "demo" and hits[0]["name"].startswith("iris")
    assert any(h["name"] == "iris" for h in get(lab, "search", q="irsi").json()["results"])
    by_column = get(lab, "search", q="petal_length").json()["results"]
    assert any(h["name"] == "iris" and h["match"] == "column" for h in by_column)
    assert get(lab, "search", q="demo.wi").json()["results"][0]["name"] == "wine"


def test_describe_gives_columns_comments_rows_and_partitions(lab):
    iris = get(lab, "tables/demo/iris").json()
    assert iris["qualified_name"] == "demo.iris"
    columns = {c["name"]: c for c in iris["columns"]}
    assert columns["sepal_length_cm"]["type"] == "double"
    assert columns["sepal_length_cm"]["comment"] == "sepal length (cm)"
    assert iris["row_count"] == 150 and iris["format"] == "parquet"
    assert iris["location"].endswith("demo.db/iris")
    partitioned = get(lab, "tables/demo/iris_by_species").json()
    assert partitioned["partition_columns"] == ["species"]
    assert {c["name"]: c for c in partitioned["columns"]}["species"]["partition"] is True


def test_preview_is_bounded(lab):
    preview = get(lab, "tables/demo/iris/preview", limit=5).json()
    assert len(preview["rows"]) == 5 and preview["truncated"] is True
    assert preview["columns"][0]["name"] == "sepal_length_cm"
    assert len(preview["rows"][0]) == len(preview["columns"])


def test_refresh_runs_as_a_background_job_that_reports_what_it_read(lab):
    started = lab.api("POST", "mlplat/api/catalog/refresh", json={"database": "demo"})
    assert started.status_code == 202, started.text
    assert started.json()["state"] in {"running", "done"}
    again = lab.api("POST", "mlplat/api/catalog/refresh", json={"database": "demo"})
    assert again.status_code == 202  # joins the running job (unit-tested), or starts the next
    deadline = time.monotonic() + 60
    while (job := get(lab, "refresh").json())["state"] == "running":
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["state"] == "done", job
    assert job["databases_done"] == job["databases_total"] == 1
    assert job["tables_done"] == job["tables_total"] >= 5 and job["progress"] == 1
    assert job["result"]["databases"] == 1 and job["result"]["tables"] >= 5
    assert job["finished"] >= job["started"]


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("tables/demo/no_such_table", {}, 404, "does not exist"),
        ("tables/nodb/iris", {}, 404, "does not exist"),
        ("tables/demo/x; drop table demo.iris", {}, 400, "invalid table name"),
        ("tables/demo/iris`--", {}, 400, "invalid table name"),
        ("tables/demo/iris/preview", {"limit": 10**9}, 400, "between 1 and 1000"),
        ("tables/demo/iris/preview", {"limit": "lots"}, 400, "whole number"),
        ("tables/demo/iris/preview", {"limit": 0}, 400, "between 1 and 1000"),
        ("databases/no_such_db/tables", {}, 404, "does not exist"),
        ("search", {"q": "x" * 500}, 400, "too long"),
        ("search", {"q": "iris", "limit": 100000}, 400, "limit"),
    ],
)
def test_bad_input_gets_a_clear_4xx(lab, path, params, status, message):
    response = get(lab, path, **params)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_hostile_search_queries_are_harmless(lab):
    for query in ['x"; drop table demo.iris', "*", "NEAR(", "'", "%_%"]:
        response = get(lab, "search", q=query)
        assert response.status_code == 200, (query, response.text)
    assert get(lab, "tables/demo/iris").status_code == 200
