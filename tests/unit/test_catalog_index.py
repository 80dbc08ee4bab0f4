"""The catalog search index on real SQLite: listing, refresh, ranking, typos, hostile input."""

from __future__ import annotations

import json
import sqlite3
import threading
import time

import pytest

from jupyter_mlplat.catalog.index import CatalogIndex, Column, SearchHit, TableEntry


def names(hits: list[SearchHit]) -> list[str]:
    return [hit.table.qualified_name for hit in hits]


@pytest.fixture
def index():
    with CatalogIndex(":memory:") as index:
        index.replace_database(
            "demo",
            [
                TableEntry("demo", "iris", comment="Fisher's flowers"),
                TableEntry("demo", "iris_features"),
                TableEntry("demo", "setosa_iris"),
                TableEntry(
                    "demo",
                    "flowers",
                    columns=(Column("iris_id", "bigint"), Column("petal_width", "double")),
                ),
                TableEntry("demo", "petals", comment="Measurements from the IRIS data set"),
                TableEntry("demo", "customers", comment="Everyone who ever bought"),
                TableEntry("demo", "orders", type="EXTERNAL"),
            ],
            comment="Demo data",
        )
        index.replace_database("sales", [TableEntry("sales", "customer_orders_daily")])
        yield index


# -- listing and refresh ----------------------------------------------------------------------


def test_listing(index):
    assert [(d["name"], d["comment"], d["table_count"]) for d in index.databases()] == [
        ("demo", "Demo data", 7),
        ("sales", "", 1),
    ]
    assert all(isinstance(d["refreshed_at"], float) for d in index.databases())
    assert [t.name for t in index.tables("demo")] == [
        "customers",
        "flowers",
        "iris",
        "iris_features",
        "orders",
        "petals",
        "setosa_iris",
    ]
    assert index.tables("nowhere") == []
    assert index.count() == 8
    orders = index.table("demo", "orders")
    assert orders is not None and orders.type == "EXTERNAL"
    assert orders.qualified_name == "demo.orders"
    assert index.table("DEMO", "Orders") == orders  # Spark names are case-insensitive
    assert index.table("demo", "missing") is None


def test_replace_drops_what_is_gone_and_keeps_described_columns(index):
    index.upsert_table(
        TableEntry(
            "demo",
            "iris",
            columns=(Column("sepal_length", "double"), Column("day", "date", partition=True)),
            format="delta",
            location="s3://lake/demo/iris",
            row_count=150,
            partition_columns=("day",),
        )
    )
    # A cheap listing (names and comments only) comes in: two tables gone, one new.
    index.replace_database(
        "demo",
        [
            TableEntry("demo", "iris", comment="Fisher's iris"),
            TableEntry("demo", "orders"),
            TableEntry("demo", "returns"),
        ],
        comment="Demo data v2",
    )
    assert [t.name for t in index.tables("demo")] == ["iris", "orders", "returns"]
    assert index.databases()[0]["table_count"] == 3
    assert index.databases()[0]["comment"] == "Demo data v2"
    assert index.count() == 4
    iris = index.table("demo", "iris")
    assert iris is not None
    assert iris.comment == "Fisher's iris"
    assert [c.name for c in iris.columns] == ["sepal_length", "day"]
    assert (iris.format, iris.location, iris.row_count) == ("delta", "s3://lake/demo/iris", 150)
    assert iris.partition_columns == ("day",)
    assert index.table("demo", "orders").type == "MANAGED"  # the listing's type wins
    # Gone from every search structure, fuzzy vocabulary included.
    assert names(index.search("flowers")) == []
    assert names(index.search("setosa")) == []
    assert names(index.search("setosaa")) == []
    assert names(index.search("Fisher")) == ["demo.iris"]
    assert names(index.search("retrns")) == ["demo.returns"]


def test_replace_rejects_tables_of_another_database(index):
    with pytest.raises(ValueError, match=r"sales\.x"):
        index.replace_database("demo", [TableEntry("sales", "x")])
    assert index.count() == 8  # nothing half-done


def test_upsert_table_with_columns(index):
    index.upsert_table(
        TableEntry(
            "demo",
            "orders",
            comment="One row per order",
            columns=(Column("order_id", "bigint", nullable=False), Column("amount", "decimal")),
        )
    )
    orders = index.table("demo", "orders")
    assert orders is not None
    assert orders.columns[0] == Column("order_id", "bigint", nullable=False)
    [hit] = index.search("amount")
    assert (hit.table.qualified_name, hit.match, hit.column) == ("demo.orders", "column", "amount")
    assert hit.table.columns == ()  # hits stay small
    assert names(index.search("per order")) == ["demo.orders"]
    # New columns replace the old ones in the column index.
    index.upsert_table(TableEntry("demo", "orders", columns=(Column("total", "decimal"),)))
    assert index.search("amount") == []
    assert names(index.search("total")) == ["demo.orders"]
    assert index.count() == 8


def test_column_comments_are_searched_like_the_table_comment(index):
    described = TableEntry(
        "demo",
        "patients",
        comment="One row per patient",
        columns=(Column("progression", "double", comment="Quantitative measure of disease"),),
    )
    index.replace_database("demo", [*index.tables("demo"), described])
    [hit] = index.search("quantitative disease")
    assert (hit.table.qualified_name, hit.match) == ("demo.patients", "comment")
    # a new comment replaces the old words; a dropped table takes them away
    index.upsert_table(
        TableEntry("demo", "patients", columns=(Column("progression", "double", comment="Y"),))
    )
    assert index.search("quantitative") == []
    index.remove_database("demo")
    assert index.search("patient") == []


def test_upsert_into_unknown_database_and_removal(index):
    index.upsert_table(TableEntry("scratch", "tmp_results"))
    scratch = next(d for d in index.databases() if d["name"] == "scratch")
    assert scratch["table_count"] == 1
    assert scratch["refreshed_at"] is None
    assert index.stale_databases(3600) == ["scratch"]
    assert set(index.stale_databases(0)) == {"demo", "sales", "scratch"}
    index.remove_database("demo")
    assert [d["name"] for d in index.databases()] == ["sales", "scratch"]
    assert index.count() == 2
    assert index.search("iris") == []
    assert index.search("irsi") == []


def test_to_json(index):
    index.upsert_table(TableEntry("demo", "iris", columns=(Column("x", "int", comment="c"),)))
    entry = index.table("demo", "iris")
    assert entry is not None
    payload = json.loads(json.dumps(entry.to_json()))
    assert payload["qualified_name"] == "demo.iris"
    assert payload["columns"] == [
        {"name": "x", "type": "int", "nullable": True, "comment": "c", "partition": False}
    ]
    hit = index.search("iris")[0]
    assert json.loads(json.dumps(hit.to_json()))["match"] == "name"


# -- search -------------------------------------------------------------------------------------


def test_ranking_exact_prefix_substring_column_comment(index):
    hits = index.search("IRIS")
    assert names(hits) == [
        "demo.iris",  # exact name
        "demo.iris_features",  # name prefix
        "demo.setosa_iris",  # name substring
        "demo.flowers",  # column name iris_id
        "demo.petals",  # comment
    ]
    assert [hit.match for hit in hits] == ["name", "name", "name", "column", "comment"]
    assert hits[3].column == "iris_id"
    scores = [hit.score for hit in hits]
    assert scores == sorted(scores, reverse=True) and len(set(scores)) == len(scores)


def test_fuzzy_typos(index):
    hits = index.search("irsi")
    assert names(hits)[0] == "demo.iris"
    assert {hit.match for hit in hits} == {"fuzzy"}
    assert names(index.search("custmer")) == ["demo.customers", "sales.customer_orders_daily"]
    assert names(index.search("custmer_ordrs")) == ["sales.customer_orders_daily"]
    assert names(index.search("ordres")) == ["demo.orders", "sales.customer_orders_daily"]
    assert index.search("qqqqqq") == []
    # A table exact matching looked at (for "iris") and rejected can still match fuzzily.
    index.upsert_table(TableEntry("demo", "iris_customers"))
    assert names(index.search("iris custmer")) == ["demo.iris_customers"]


def test_exact_matches_come_before_fuzzy_ones(index):
    index.upsert_table(TableEntry("demo", "oders"))  # a real table one typo away from orders
    hits = index.search("oders")
    assert names(hits)[0] == "demo.oders"
    assert hits[0].match == "name"


def test_qualified_and_multi_term_queries(index):
    assert names(index.search("demo.ir")) == ["demo.iris", "demo.iris_features"]
    assert names(index.search("demo.iris")) == ["demo.iris", "demo.iris_features"]
    assert names(index.search("mo.setosa")) == ["demo.setosa_iris"]
    assert names(index.search("sales.")) == ["sales.customer_orders_daily"]
    # Every term must match; the best-matching term decides the rank.
    assert names(index.search("iris petal")) == ["demo.petals", "demo.flowers"]
    assert names(index.search("customer daily")) == ["sales.customer_orders_daily"]
    assert index.search("iris nothing_like_this") == []


def test_long_substrings(index):
    long_name = "prod_customer_lifetime_value_predictions_daily"
    index.upsert_table(TableEntry("ml", long_name))
    for query in [
        "customer_lifetime_value_predictions",  # longer than the stored suffixes
        "lifetime_value_predictions_daily",
        long_name,
    ]:
        assert names(index.search(query)) == [f"ml.{long_name}"], query
    assert index.search("customer_lifetime_value_predictions_weekly") == []


def test_limit_keeps_the_best(index):
    assert names(index.search("iris", limit=2)) == ["demo.iris", "demo.iris_features"]
    assert names(index.search("iris", limit=4))[-1] == "demo.flowers"


def test_short_queries(index):
    hits = index.search("ir")
    assert names(hits) == [
        "demo.iris",  # name prefix
        "demo.iris_features",
        "demo.setosa_iris",  # name substring
        "demo.flowers",  # column name prefix: iris_id
        "demo.petals",  # comment word prefix: iris
    ]
    assert [hit.match for hit in hits] == ["name", "name", "name", "column", "comment"]
    assert names(index.search("pe")) == ["demo.petals", "demo.flowers"]  # petal_width
    assert names(index.search("o")) == [
        "demo.orders",  # prefix, then substrings, the closest (shortest name) first
        "demo.flowers",
        "demo.customers",
        "demo.setosa_iris",
        "sales.customer_orders_daily",
    ]
    assert names(index.search("i", limit=1)) == ["demo.iris"]
    assert names(index.search("ir flowers")) == ["demo.flowers", "demo.iris"]
    assert names(index.search("ir fisher")) == ["demo.iris"]


def test_limit_is_bounded():
    with CatalogIndex(":memory:") as index:
        index.replace_database("big", [TableEntry("big", f"events_{i:04d}") for i in range(700)])
        assert len(index.search("events")) == 50
        assert len(index.search("events", limit=10_000)) == 500
        assert len(index.search("ev", limit=600)) == 500
        assert index.search("events", limit=0) == []
        assert index.search("events", limit=-3) == []
        assert names(index.search("events_0007")) == ["big.events_0007"]


@pytest.mark.parametrize(
    "query",
    [
        'x"; drop table catalog_tables; --',
        "*",
        "NEAR(",
        "NEAR(iris orders, 2)",
        '"',
        '""',
        "'",
        "(",
        ")",
        "AND",
        "OR NOT",
        "^iris",
        "-iris",
        "iris*",
        "name:iris",
        "{name}: iris",
        "%",
        "_",
        "\\",
        "iris\x00orders",
        "\ud800",
        "`demo`.`iris`",
        "ir" * 5000,
        "custmr_" * 14,  # many misspelt words in one term
        "ordrs_custmer_" * 7,
        " ".join(["iris"] * 100),
        "\t\n",
        "",
    ],
)
def test_hostile_queries_do_not_raise(index, query):
    hits = index.search(query)
    assert len(hits) <= 50
    assert index.count() == 8
    assert names(index.search("iris"))[0] == "demo.iris"


def test_backticks_are_ignored(index):
    assert names(index.search("`demo`.`iris`"))[0] == "demo.iris"


# -- files and threads ----------------------------------------------------------------------------


def test_file_backed_index_survives_reopening(tmp_path):
    path = tmp_path / "state" / "catalog" / "index.sqlite"
    with CatalogIndex(path) as index:
        index.replace_database("demo", [TableEntry("demo", "iris", comment="flowers")])
        index.upsert_table(TableEntry("demo", "iris", columns=(Column("species", "string"),)))
    with CatalogIndex(path) as index:
        assert index.count() == 1
        assert [c.name for c in index.table("demo", "iris").columns] == ["species"]
        assert names(index.search("spec")) == ["demo.iris"]
        assert names(index.search("irsi")) == ["demo.iris"]
        assert index.stale_databases(3600) == []


def test_index_of_an_older_layout_is_rebuilt(tmp_path):
    path = tmp_path / "index.sqlite"
    old = sqlite3.connect(path)
    old.executescript(
        "CREATE TABLE catalog_tables (id INTEGER PRIMARY KEY, name TEXT);"
        "INSERT INTO catalog_tables VALUES (1, 'stale');"
        "PRAGMA user_version = 1;"
    )
    old.close()
    with CatalogIndex(path) as index:
        assert index.count() == 0
        index.replace_database("demo", [TableEntry("demo", "iris")])
        assert names(index.search("iris")) == ["demo.iris"]


@pytest.mark.parametrize("in_memory", [False, True], ids=["file", "memory"])
def test_concurrent_reads_during_writes(tmp_path, in_memory):
    """Readers see either the old or the new catalog, never a half-written one."""
    index = CatalogIndex(":memory:" if in_memory else tmp_path / "index.sqlite")
    small = [TableEntry("lake", f"orders_{i}") for i in range(200)]
    large = small + [TableEntry("lake", f"payments_{i}", comment="card") for i in range(2000)]
    index.replace_database("lake", small)
    errors: list[BaseException] = []
    seen_counts: set[int] = set()
    stop = threading.Event()

    def write() -> None:
        try:
            for round_ in range(6):
                index.replace_database("lake", large if round_ % 2 == 0 else small)
        except BaseException as error:
            errors.append(error)
        finally:
            stop.set()

    def read() -> None:
        try:
            while not stop.is_set():
                count = index.count()
                listed = len(index.tables("lake"))
                seen_counts.add(count)
                assert count in (len(small), len(large))
                assert listed in (len(small), len(large))
                hits = index.search("payments", limit=20)
                assert len(hits) in (0, 20)
                assert len(index.search("orders_1", limit=500)) == 111
        except BaseException as error:
            errors.append(error)
            stop.set()

    readers = [threading.Thread(target=read) for _ in range(3)]
    writer = threading.Thread(target=write)
    for thread in [*readers, writer]:
        thread.start()
    deadline = time.monotonic() + 120
    for thread in [writer, *readers]:
        thread.join(max(0.0, deadline - time.monotonic()))
    index.close()
    assert not errors, errors[0]
    assert seen_counts  # the readers ran
    assert not any(thread.is_alive() for thread in [writer, *readers])
