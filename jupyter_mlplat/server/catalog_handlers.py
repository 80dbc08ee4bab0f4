"""REST surface of the catalog: ``/mlplat/api/catalog/...`` (see openapi.yaml)."""

from __future__ import annotations

import time
from typing import Any

from tornado import web

from jupyter_mlplat.catalog.index import SearchHit
from jupyter_mlplat.catalog.service import CatalogService
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.server.handlers import MLPlatHandler


class CatalogHandler(MLPlatHandler):
    """Base: the catalog service, called off the event loop (Spark calls block)."""

    @property
    def catalog(self) -> CatalogService:
        return self.settings["mlplat_catalog"]


class DatabasesHandler(CatalogHandler):
    @web.authenticated
    async def get(self) -> None:
        self.finish({"databases": await self.call(self.catalog.databases)})


class TablesHandler(CatalogHandler):
    @web.authenticated
    async def get(self, database: str) -> None:
        tables = await self.call(self.catalog.tables, database)
        self.finish({"database": database, "tables": [t.to_json() for t in tables]})


class SearchHandler(CatalogHandler):
    @web.authenticated
    async def get(self) -> None:
        query = self.get_argument("q", "")
        limit = self.int_argument("limit", 50)
        started = time.monotonic()
        hits = await self.call(self.catalog.search, query, limit)
        self.finish(
            {
                "query": query,
                "results": [search_result(h) for h in hits],
                "took_ms": round((time.monotonic() - started) * 1000, 2),
            }
        )


def search_result(hit: SearchHit) -> dict[str, Any]:
    """A flat search result: the table's fields (no columns) and how it matched."""
    table = {k: v for k, v in hit.table.to_json().items() if k != "columns"}
    return table | {"match": hit.match, "score": hit.score, "column": hit.column}


class CompletionsHandler(CatalogHandler):
    """Databases and tables by prefix, for the kernel's completer (its token is accepted).

    Answered on the event loop, not in the executor: an index read takes about a millisecond
    (WAL: never blocked by a refresh), while the executor may be busy with slow Spark calls and
    the kernel gives up on a completion after ~200 ms."""

    kernel_api = True

    @web.authenticated
    async def get(self) -> None:
        prefix = self.get_argument("prefix", "")
        found = self.catalog.completions(prefix, self.int_argument("limit", 100))
        self.finish(
            {
                "prefix": prefix,
                "items": [item.to_json() for item in found.items],
                "complete": found.complete,
            }
        )


class CompletionColumnsHandler(CatalogHandler):
    """The indexed columns of the tables a SQL statement names (see CompletionsHandler)."""

    kernel_api = True

    @web.authenticated
    async def get(self) -> None:
        found = self.catalog.completion_columns(self.get_arguments("table"))
        self.finish(
            {"tables": {table: [c.to_json() for c in columns] for table, columns in found.items()}}
        )


class TableHandler(CatalogHandler):
    @web.authenticated
    async def get(self, database: str, table: str) -> None:
        entry = await self.call(self.catalog.describe, database, table)
        self.finish(entry.to_json())


class PreviewHandler(CatalogHandler):
    @web.authenticated
    async def get(self, database: str, table: str) -> None:
        limit = self.int_argument("limit", 20)
        preview = await self.call(self.catalog.preview, database, table, limit)
        self.finish(preview.to_json())


class RefreshHandler(CatalogHandler):
    """The background refresh job: POST starts one (or joins the running one), GET follows it."""

    @web.authenticated
    async def get(self) -> None:
        self.finish(self.catalog.refresh_job.to_json())

    @web.authenticated
    async def post(self) -> None:
        body = self.get_json_body() or {}
        if not isinstance(body, dict):
            raise InvalidInput("the body must be a JSON object")
        database = body.get("database")
        if database is not None and not isinstance(database, str):
            raise InvalidInput("database must be a string")
        job = self.catalog.start_refresh(database)
        self.set_status(202)
        self.finish(job.to_json())


ROUTES: list[tuple[str, type[MLPlatHandler]]] = [
    (r"mlplat/api/catalog/databases", DatabasesHandler),
    (r"mlplat/api/catalog/databases/([^/]+)/tables", TablesHandler),
    (r"mlplat/api/catalog/search", SearchHandler),
    (r"mlplat/api/catalog/completions", CompletionsHandler),
    (r"mlplat/api/catalog/completions/columns", CompletionColumnsHandler),
    (r"mlplat/api/catalog/tables/([^/]+)/([^/]+)", TableHandler),
    (r"mlplat/api/catalog/tables/([^/]+)/([^/]+)/preview", PreviewHandler),
    (r"mlplat/api/catalog/refresh", RefreshHandler),
]
