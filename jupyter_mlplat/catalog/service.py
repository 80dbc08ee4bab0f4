"""The catalog service behind the side panel and its REST API: validate, index, describe."""

from __future__ import annotations

import re
import threading
import time
from typing import Any

from jupyter_mlplat.catalog.backend import CatalogBackend, Preview
from jupyter_mlplat.catalog.index import CatalogIndex, SearchHit, TableEntry
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, NotFound

#: Names a user may ask for: plain identifiers only, so nothing else ever reaches SQL.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_SEARCH_RESULTS = 500


def identifier(value: str, what: str) -> str:
    """``value`` if it is a valid database/table name, else a clear ``InvalidInput``."""
    if not IDENTIFIER.match(value or ""):
        raise InvalidInput(f"invalid {what} name {value!r}: use letters, digits and _ only")
    return value


class CatalogService:
    """Listing and search from the index; describe and preview from the metastore."""

    def __init__(self, config: MLPlat, backend: CatalogBackend, index: CatalogIndex) -> None:
        self.config = config
        self.backend = backend
        self.index = index
        self._refresh_lock = threading.Lock()

    @classmethod
    def from_config(cls, config: MLPlat) -> CatalogService:
        """The configured backend over an index in the state directory."""
        backend = CatalogBackend.create(config.catalog_backend, config)
        path = config.catalog_index_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(config, backend, CatalogIndex(path))

    # -- index --------------------------------------------------------------------------------
    def refresh(self, database: str | None = None, describe_budget: int = 200) -> dict[str, Any]:
        """Re-read databases (or one) into the index, then describe up to ``describe_budget``
        tables whose columns are not indexed yet (so column search grows incrementally)."""
        started = time.monotonic()
        with self._refresh_lock:
            known = dict(self.backend.databases())
            if database is not None:
                identifier(database, "database")
                if database not in known:
                    self.index.remove_database(database)
                    raise NotFound(f"database {database!r} does not exist")
                targets = [database]
            else:
                targets = sorted(known)
                for gone in {d["name"] for d in self.index.databases()} - set(known):
                    self.index.remove_database(gone)
            tables = 0
            for name in targets:
                listing = self.backend.tables(name)
                self.index.replace_database(name, listing, comment=known[name])
                tables += len(listing)
            described = self._describe_missing(targets, describe_budget)
        return {
            "databases": len(targets),
            "tables": tables,
            "described": described,
            "took_ms": round((time.monotonic() - started) * 1000, 1),
        }

    def _describe_missing(self, databases: list[str], budget: int) -> int:
        done = 0
        for database in databases:
            for entry in self.index.tables(database):
                if done >= budget:
                    return done
                if not entry.columns:
                    self.index.upsert_table(self.backend.describe(database, entry.name))
                    done += 1
        return done

    def ensure_indexed(self) -> None:
        """Fill an empty index on first use."""
        if self.index.count() == 0 and not self.index.databases():
            self.refresh()

    # -- queries ------------------------------------------------------------------------------
    def databases(self) -> list[dict[str, Any]]:
        self.ensure_indexed()
        return self.index.databases()

    def tables(self, database: str) -> list[TableEntry]:
        identifier(database, "database")
        self.ensure_indexed()
        if database not in {d["name"] for d in self.index.databases()}:
            raise NotFound(f"database {database!r} does not exist")
        return self.index.tables(database)

    def search(self, query: str, limit: int = 50) -> list[SearchHit]:
        if not 1 <= limit <= MAX_SEARCH_RESULTS:
            raise InvalidInput(f"limit must be between 1 and {MAX_SEARCH_RESULTS}")
        if len(query) > 200:
            raise InvalidInput("query too long (200 characters at most)")
        self.ensure_indexed()
        return self.index.search(query, limit) if query.strip() else []

    def describe(self, database: str, table: str) -> TableEntry:
        self._known(database, table)
        entry = self.backend.describe(database, table)
        self.index.upsert_table(entry)
        return entry

    def preview(self, database: str, table: str, limit: int) -> Preview:
        maximum = self.config.catalog_preview_max_rows
        if not 1 <= limit <= maximum:
            raise InvalidInput(f"preview limit must be between 1 and {maximum} rows")
        self._known(database, table)
        return self.backend.preview(database, table, limit)

    def _known(self, database: str, table: str) -> None:
        """404 for tables the catalog does not know — checked before anything runs on Spark."""
        identifier(database, "database")
        identifier(table, "table")
        self.ensure_indexed()
        if self.index.table(database, table) is None:
            self.refresh(database, describe_budget=0)  # created since the last refresh?
        if self.index.table(database, table) is None:
            raise NotFound(f"table {database}.{table} does not exist")

    def close(self) -> None:
        self.backend.close()
