"""Catalog completion in the kernel: the context at the cursor, the cache, the IPython matcher,
the kept-alive client of the server's API."""

from __future__ import annotations

import threading
import time
from http.server import ThreadingHTTPServer
from typing import ClassVar

import pytest

from jupyter_mlplat.errors import NotFound, Unavailable
from jupyter_mlplat.kernel.completion import (
    MATCHER_ID,
    PRUNE_AT,
    CatalogNames,
    catalog_matcher,
)
from jupyter_mlplat.kernel.completion_context import (
    CatalogContext,
    catalog_context,
    statement_tables,
)
from jupyter_mlplat.kernel.platform_api import PlatformApi
from tests.unit.test_deploy_magics import FakeServer as DeployServer


def at_bar(cell: str) -> CatalogContext | None:
    """The context at the ``|`` of ``cell`` (the bar removed)."""
    cursor = cell.index("|")
    return catalog_context(cell[:cursor] + cell[cursor + 1 :], cursor)


def table(fragment: str) -> CatalogContext:
    return CatalogContext("table", fragment)


def column(fragment: str, *tables: str) -> CatalogContext:
    return CatalogContext("column", fragment, tables)


# -- the context at the cursor -------------------------------------------------------------------


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('df = spark.table("de|', table("de")),
        ('df = spark.table("de|")', table("de")),
        ("spark.table('demo.ir|')", table("demo.ir")),
        ('spark.read.table("demo.|', table("demo.")),
        ('spark.table("|', table("")),
        ('spark.table(tableName="ir|', table("ir")),
        ('spark.read.table(r"de|', table("de")),
        ('df.write.saveAsTable("demo.out|', table("demo.out")),
        ('df.write.insertInto("demo.|', table("demo.")),
        ('spark.table("""demo.ir|', table("demo.ir")),
        # not a table name, or not in the string
        ('spark.table("demo iris|', None),
        ('spark.table("demo.iris.sp|', None),
        ('spark.table("demo.iris").filter("sp|', None),
        ('spark.table("demo.iris")|', None),
        ('print("de|', None),
        ('spark.table("a")\nx = "de|', None),
        ('spark.table("de\nfoo|', None),
        ("spark.table(name|", None),
    ],
)
def test_python_table_arguments(cell, expected):
    assert at_bar(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ('spark.sql("SELECT * FROM d|', table("d")),
        ('spark.sql("SELECT * FROM demo.|")', table("demo.")),
        ("spark.sql('select * from demo.ir|')", table("demo.ir")),
        ('spark.sql("SELECT * FROM demo.iris i JOIN demo.w|', table("demo.w")),
        ('spark.sql("SELECT * FROM demo.iris, demo.w|', table("demo.w")),
        ('spark.sql("INSERT INTO demo.o|', table("demo.o")),
        ('spark.sql("INSERT OVERWRITE TABLE demo.o|', table("demo.o")),
        ('spark.sql("DESCRIBE demo.i|', table("demo.i")),
        ('spark.sql("""\nSELECT *\nFROM |', table("")),
        ('spark.sql(f"SELECT * FROM de|', table("de")),
        # columns: the statement's tables, also those after the cursor
        ('spark.sql("SELECT sp| FROM demo.iris")', column("sp", "demo.iris")),
        ('spark.sql("SELECT a, sp| FROM demo.iris")', column("sp", "demo.iris")),
        ('spark.sql("SELECT a AS b, s| FROM demo.iris")', column("s", "demo.iris")),
        ('spark.sql("SELECT count(s| FROM iris")', column("s", "iris")),
        ('spark.sql("SELECT * FROM demo.iris WHERE p|', column("p", "demo.iris")),
        ('spark.sql("SELECT * FROM demo.iris WHERE a = 1 AND p|', column("p", "demo.iris")),
        ('spark.sql("SELECT * FROM demo.iris GROUP BY sp|', column("sp", "demo.iris")),
        (
            'spark.sql("SELECT i.sp| FROM demo.iris i JOIN demo.wine AS w ON i.id = w.id")',
            column("i.sp", "demo.iris"),
        ),
        ('spark.sql("SELECT w.| FROM demo.iris i JOIN demo.wine AS w")', column("w.", "demo.wine")),
        ('spark.sql("SELECT iris.s| FROM demo.iris")', column("iris.s", "demo.iris")),
        ('spark.sql("SELECT demo.iris.s| FROM demo.iris")', column("demo.iris.s", "demo.iris")),
        (
            'spark.sql("SELECT s| FROM demo.iris i, demo.wine w")',
            column("s", "demo.iris", "demo.wine"),
        ),
        ('spark.sql("SELECT s| FROM (SELECT * FROM demo.iris) t")', column("s", "demo.iris")),
        # nothing to complete from the catalog
        ('spark.sql("SELECT x AS a|', None),
        ('spark.sql("SELECT sp|', None),  # no table yet
        ('spark.sql("SELECT q.sp| FROM demo.iris")', None),  # unknown qualifier
        ('spark.sql("SELECT * FROM demo.iris i|', None),  # an alias
        ("spark.sql(\"SELECT * FROM demo.iris WHERE name = 'FROM d|", None),  # a SQL string
        ('spark.sql("SELECT * FROM demo.iris -- FROM d|', None),  # a comment
        ('spark.sql("SELECT * FROM demo.iris LIMIT 1|', None),
        ('spark.sql("SELECT * FROM `demo|', None),
        ('spark.sql(f"SELECT * FROM {db}.t|', None),
        ('spark.sql("SELECT 1"); x = "FROM d|', None),
    ],
)
def test_sql_in_python(cell, expected):
    assert at_bar(cell) == expected


@pytest.mark.parametrize(
    ("cell", "expected"),
    [
        ("%%sql\nSELECT * FROM de|", table("de")),
        ("%%sql mydb\nSELECT sp| FROM demo.iris", column("sp", "demo.iris")),
        ("%%spark -c sql\nSELECT * FROM demo.|", table("demo.")),
        ("%%spark --context sql -o df\nSELECT * FROM demo.iris JOIN d|", table("d")),
        ("%%sql\nSELECT 1;\nSELECT * FROM demo.iris WHERE s|", column("s", "demo.iris")),
        ("%%sql\nSELECT s| FROM demo.iris;\nSELECT * FROM demo.wine", column("s", "demo.iris")),
        ("%%spark\nFROM de|", None),  # Python (or Scala) on Livy, not SQL
        ("%%s|ql\nSELECT * FROM demo", None),
        ("SELECT * FROM de|", None),  # not a SQL cell: Python
    ],
)
def test_sql_cells(cell, expected):
    assert at_bar(cell) == expected


def test_statement_tables_with_aliases():
    sql = (
        "SELECT * FROM demo.iris AS i, demo.extra LEFT JOIN wine w ON i.id = w.id "
        "WHERE x IN (SELECT y FROM demo.sub) ORDER BY 1"
    )
    assert statement_tables(sql) == {
        "IRIS": "demo.iris",
        "I": "demo.iris",
        "WINE": "wine",
        "W": "wine",
        "EXTRA": "demo.extra",
        "SUB": "demo.sub",
    }


def test_context_parts():
    assert column("i.sp", "demo.iris").qualifier == "i."
    assert column("i.sp", "demo.iris").prefix == "sp"
    assert column("sp", "demo.iris").qualifier == ""
    assert table("demo.ir").prefix == "demo.ir"
    assert table("demo.ir").qualifier == ""


# -- the cache -----------------------------------------------------------------------------------

DEMO = [
    {"text": "default", "kind": "database", "database": "default", "name": ""},
    {"text": "demo", "kind": "database", "database": "demo", "name": ""},
    {"text": "demo.iris", "kind": "table", "database": "demo", "name": "iris"},
    {"text": "demo.wine", "kind": "table", "database": "demo", "name": "wine"},
    {"text": "sales.demand", "kind": "table", "database": "sales", "name": "demand"},
]


class FakeServer:
    """Answers the completion routes from ``DEMO``; counts requests; can be slow or down."""

    def __init__(self, complete: bool = True) -> None:
        self.complete = complete
        self.paths: list[str] = []
        self.gate = threading.Event()
        self.gate.set()
        self.down = False

    def __call__(self, path: str):
        self.paths.append(path)
        self.gate.wait(5)
        if self.down:
            raise OSError("connection refused")
        if path.startswith("catalog/completions/columns"):
            return {"tables": {"demo.iris": [{"name": "sepal_length"}, {"name": "species"}]}}
        prefix = path.split("prefix=")[1].split("&", maxsplit=1)[0].replace("%2E", ".").lower()
        items = [
            i
            for i in DEMO
            if i["text"].startswith(prefix) or ("." not in prefix and i["name"].startswith(prefix))
        ]
        return {"items": items, "complete": self.complete}


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def texts(items):
    return [i["text"] for i in items]


def test_a_complete_answer_serves_longer_prefixes_until_it_expires():
    server, clock = FakeServer(), Clock()
    names = CatalogNames(server, ttl=30, clock=clock)
    assert texts(names.tables("de")) == [
        "default",
        "demo",
        "demo.iris",
        "demo.wine",
        "sales.demand",
    ]
    assert texts(names.tables("dem")) == ["demo", "demo.iris", "demo.wine", "sales.demand"]
    assert texts(names.tables("demo.i")) == ["demo.iris"]
    assert texts(names.tables("DEMO.W")) == ["demo.wine"]
    assert len(server.paths) == 1  # one request, the rest from the cache
    clock.now += 31
    assert texts(names.tables("demo.i")) == ["demo.iris"]
    assert len(server.paths) == 2


def test_expired_answers_are_dropped_as_the_cache_grows():
    server, clock = FakeServer(), Clock()
    names = CatalogNames(server, ttl=30, clock=clock)
    for i in range(PRUNE_AT):
        names.tables(f"x{i:04d}")
    clock.now += 31
    names.tables("de")
    assert list(names._names) == ["de"]


def test_a_truncated_answer_is_asked_again_for_longer_prefixes():
    server = FakeServer(complete=False)
    names = CatalogNames(server, clock=Clock())
    names.tables("d")
    names.tables("d")  # the same prefix: cached
    names.tables("de")
    assert [p.split("&")[0] for p in server.paths] == [
        "catalog/completions?prefix=d",
        "catalog/completions?prefix=de",
    ]


def test_columns_are_cached_per_table():
    server = FakeServer()
    names = CatalogNames(server, clock=Clock())
    assert [c["name"] for c in names.columns(("demo.iris", "Demo.Iris"))] == [
        "sepal_length",
        "species",
    ]
    assert names.columns(("demo.iris", "nowhere")) == names.columns(("demo.iris",))
    assert server.paths == [
        "catalog/completions/columns?table=demo.iris",
        "catalog/completions/columns?table=nowhere",
    ]


def test_a_slow_server_gives_nothing_within_the_timeout_then_fills_the_cache():
    server, clock = FakeServer(), Clock()
    server.gate.clear()
    names = CatalogNames(server, timeout=0.05, clock=clock)
    assert names.tables("de") == []  # answered within the timeout: nothing
    assert names.tables("de") == []  # the same request is still running: not sent twice
    assert len(server.paths) == 1
    server.gate.set()
    names._pool.shutdown(wait=True)  # the background request finishes...
    assert texts(names.tables("demo")) == ["demo", "demo.iris", "demo.wine"]  # ...into the cache
    assert len(server.paths) == 1


def test_a_failing_server_is_not_asked_again_for_a_while():
    server, clock = FakeServer(), Clock()
    server.down = True
    names = CatalogNames(server, clock=clock)
    assert names.tables("de") == []
    assert names.tables("dem") == []
    assert len(server.paths) == 1
    clock.now += 6
    server.down = False
    assert texts(names.tables("dem")) == ["demo", "demo.iris", "demo.wine", "sales.demand"]


# -- the matcher in a real IPython shell ---------------------------------------------------------


@pytest.fixture
def completer(ipython_shell):
    matcher = catalog_matcher(CatalogNames(FakeServer(), clock=Clock()))
    ipython_shell.Completer.custom_matchers.append(matcher)
    yield ipython_shell.Completer
    ipython_shell.Completer.custom_matchers.remove(matcher)


def complete(completer, cell: str) -> list[tuple[str, str, int]]:
    from IPython.core.completer import provisionalcompleter

    cursor = cell.index("|")
    code = cell[:cursor] + cell[cursor + 1 :]
    with provisionalcompleter():
        found = completer.completions(code, cursor)
        return [(c.text, c.type, c.start) for c in found if c._origin == MATCHER_ID]


def test_the_matcher_completes_tables_and_columns_in_a_shell(completer):
    cell = 'x = 1\ndf = spark.table("demo.i|'
    start = cell.index("demo")
    assert complete(completer, cell) == [("demo.iris", "table", start)]
    cell = 'spark.sql("SELECT s| FROM demo.iris")'
    assert complete(completer, cell) == [
        ("sepal_length", "column", cell.index("s|")),
        ("species", "column", cell.index("s|")),
    ]
    assert complete(completer, "%%sql\nSELECT * FROM sa|") == [
        ("sales.demand", "table", len("%%sql\nSELECT * FROM "))
    ]


def test_the_matcher_leaves_other_code_alone(completer):
    assert complete(completer, "import o|") == []
    assert complete(completer, 'spark.table("nothing_like_it|') == []


# -- the kept-alive client -----------------------------------------------------------------------


class KeepAliveServer(DeployServer):
    """HTTP/1.1 with keep-alive; ``/mlplat/api/close`` answers, then closes the connection."""

    protocol_version = "HTTP/1.1"
    clients: ClassVar[list[tuple[str, int]]] = []

    def do_GET(self) -> None:
        KeepAliveServer.clients.append(self.client_address)
        if self.path.endswith("/missing"):
            self._answer(404, {"message": "table demo.nope does not exist"})
            return
        self._answer(200, {"path": self.path, "auth": self.headers["Authorization"]})
        self.close_connection = self.path.endswith("/close")


def test_get_keeps_one_connection_and_reconnects_when_it_is_closed():
    server = ThreadingHTTPServer(("127.0.0.1", 0), KeepAliveServer)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        api = PlatformApi(f"http://127.0.0.1:{server.server_port}/base/", "s3cret")
        assert api.get("catalog/completions?prefix=de") == {
            "path": "/base/mlplat/api/catalog/completions?prefix=de",
            "auth": "mlplat s3cret",
        }
        api.get("/close")
        time.sleep(0.1)  # the server has closed that connection: the next call opens another
        api.get("again")
        api.get("and-again")
        ports = [port for _, port in KeepAliveServer.clients]
        assert ports[0] == ports[1] and ports[2] == ports[3] and ports[1] != ports[2]
        with pytest.raises(NotFound, match=r"^table demo.nope does not exist$"):
            api.get("missing")
    finally:
        server.shutdown()
        server.server_close()
    with pytest.raises(Unavailable, match="unreachable"):  # (the open connection's thread lives)
        PlatformApi(f"http://127.0.0.1:{server.server_port}", "s3cret").get("gone")
