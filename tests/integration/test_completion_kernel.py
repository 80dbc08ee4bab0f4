"""Catalog completion in a real kernel, through the real server and its catalog index (filled from
Spark Connect's demo database): ``complete_request`` as JupyterLab sends it on Tab."""

from __future__ import annotations

import time

import pytest

pytestmark = pytest.mark.integration


DEMO_TABLES = {"demo.iris", "demo.wine", "demo.diabetes", "demo.breast_cancer"}


def wait_for_the_demo_catalog(lab, timeout: float = 180) -> None:
    """Until the index holds the demo tables with their columns: an index filled while the
    platform was still creating them is refreshed."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        names = lab.api("GET", "mlplat/api/catalog/completions", params={"prefix": "demo."})
        columns = lab.api(
            "GET", "mlplat/api/catalog/completions/columns", params={"table": "demo.iris"}
        )
        tables = {item["text"] for item in names.json()["items"]}
        if tables >= DEMO_TABLES and columns.json()["tables"].get("demo.iris"):
            return
        lab.api("POST", "mlplat/api/catalog/refresh", json={"database": "demo"})  # or join one
        time.sleep(2)
    raise AssertionError(f"the catalog index has no demo tables with columns: {tables}")


@pytest.fixture(scope="module")
def kernel(lab, platform):
    wait_for_the_demo_catalog(lab)
    (platform.notebook_dir / "completion").mkdir(exist_ok=True)
    with lab.kernel(lab.start_session("completion/tab.ipynb")) as connection:
        yield connection


def offered(kernel, code: str, cursor: int | None = None) -> dict:
    """The kernel's reply once it offers catalog names: a Tab whose request to the server takes
    over 200 ms offers nothing (the answer lands in the cache for the next Tab)."""
    for _ in range(20):
        reply = kernel.complete(code, cursor)
        types = reply["metadata"].get("_jupyter_types_experimental", [])
        if any(t["type"] in {"database", "table", "column"} for t in types):
            return reply
        time.sleep(0.25)
    raise AssertionError(f"no catalog completion for {code!r}: {reply}")


def kinds(reply: dict) -> dict[str, str]:
    return {t["text"]: t["type"] for t in reply["metadata"]["_jupyter_types_experimental"]}


def test_spark_table_offers_databases_and_tables(kernel):
    code = 'df = spark.table("de'
    reply = offered(kernel, code)
    assert {"demo": "database", "demo.iris": "table", "demo.wine": "table"}.items() <= kinds(
        reply
    ).items()
    assert reply["matches"][0] == "default" or reply["matches"][0] == "demo"  # databases first
    assert (reply["cursor_start"], reply["cursor_end"]) == (code.index("de"), len(code))
    reply = offered(
        kernel, 'df = spark.read.table("demo.ir")', len('df = spark.read.table("demo.ir')
    )
    # (other tests of the session may have added demo.iris_* tables: batch predictions)
    assert set(reply["matches"]) >= {"demo.iris", "demo.iris_by_species"}
    assert all(match.startswith("demo.ir") for match in reply["matches"])


def test_spark_sql_offers_tables_after_from(kernel):
    code = 'spark.sql("SELECT * FROM demo.'
    reply = offered(kernel, code)
    assert set(reply["matches"]) >= DEMO_TABLES
    assert all(match.startswith("demo.") for match in reply["matches"])
    assert reply["cursor_start"] == code.index("demo.")


def test_spark_sql_offers_the_columns_of_the_tables_it_reads(kernel):
    code = 'spark.sql("SELECT species, sepal FROM demo.iris WHERE petal_length_cm > 1")'
    cursor = code.index("sepal") + len("sepal")
    reply = offered(kernel, code, cursor)
    assert reply["matches"] == ["sepal_length_cm", "sepal_width_cm"]
    assert set(kinds(reply).values()) == {"column"}
    assert (reply["cursor_start"], reply["cursor_end"]) == (code.index("sepal"), cursor)
    aliased = offered(
        kernel, 'spark.sql("SELECT i.pet FROM demo.iris i")', len('spark.sql("SELECT i.pet')
    )
    assert aliased["matches"] == ["i.petal_length_cm", "i.petal_width_cm"]


def test_sql_cells_complete_too(kernel):
    reply = offered(kernel, "%%spark -c sql\nSELECT * FROM demo.wi")
    assert reply["matches"] == ["demo.wine"]


def test_other_code_completes_as_before(kernel):
    reply = kernel.complete("import collec")
    assert "collections" in reply["matches"]
    reply = kernel.complete('spark.table("no_such_thing_anywhere')
    assert reply["matches"] == []
