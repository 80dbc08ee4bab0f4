"""The catalog service behind the side panel and its REST API: validate, index, describe."""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable
from typing import Any, Literal

from jupyter_mlplat.catalog.backend import CatalogBackend, Preview
from jupyter_mlplat.catalog.index import CatalogIndex, Column, Completions, SearchHit, TableEntry
from jupyter_mlplat.catalog.snapshot import Snapshot
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, NotFound

#: Names a user may ask for: plain identifiers only, so nothing else ever reaches SQL.
IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,127}$")
MAX_SEARCH_RESULTS = 500
#: What completion is asked for: the start of ``name`` or ``db.name`` as typed so far.
COMPLETION_PREFIX = re.compile(r"^[A-Za-z0-9_]{0,128}(\.[A-Za-z0-9_]{0,128})?$")
MAX_COMPLETION_TABLES = 16  # tables whose columns one request may ask for

log = logging.getLogger(__name__)

JobState = Literal["idle", "running", "done", "failed"]


class RefreshJob:
    """One background catalog refresh and its progress (thread-safe snapshots).

    ``progress`` goes 0 → 0.5 while databases are listed, 0.5 → 1 while their tables are
    checked for columns (the per-table describe is what takes time on a large metastore).
    """

    def __init__(self, database: str | None = None) -> None:
        self.database = database
        self.state: JobState = "idle"
        self.databases_done = self.databases_total = 0
        self.tables_done = self.tables_total = 0
        self.message = ""
        self.started: float | None = None
        self.finished: float | None = None
        self.result: dict[str, Any] | None = None
        self._lock = threading.Lock()
        self._finished = threading.Event()

    def update(self, **fields: Any) -> None:
        """Record progress (called from the refreshing thread)."""
        with self._lock:
            for name, value in fields.items():
                setattr(self, name, value)

    def wait(self, timeout: float | None = None) -> bool:
        """Block until the job has ended; False on timeout."""
        return self._finished.wait(timeout)

    @property
    def progress(self) -> float:
        if self.state == "done":
            return 1.0
        listed = self.databases_done / self.databases_total if self.databases_total else 0.0
        checked = self.tables_done / self.tables_total if self.tables_total else 0.0
        return round(0.5 * listed + 0.5 * checked, 3)

    def to_json(self) -> dict[str, Any]:
        with self._lock:
            return {
                "state": self.state,
                "database": self.database,
                "databases_done": self.databases_done,
                "databases_total": self.databases_total,
                "tables_done": self.tables_done,
                "tables_total": self.tables_total,
                "progress": self.progress,
                "message": self.message,
                "started": self.started,
                "finished": self.finished,
                "result": self.result,
            }

    def run(self, work: Callable[[RefreshJob], dict[str, Any]]) -> None:
        try:
            result = work(self)
        except Exception as err:  # the job reports it; the next refresh starts afresh
            log.warning("catalog refresh failed: %s", err)
            message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            self.update(state="failed", message=message, finished=time.time())
        else:
            summary = f"{result['databases']} databases, {result['tables']} tables"
            self.update(state="done", result=result, message=summary, finished=time.time())
        self._finished.set()


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
        self._job_lock = threading.Lock()
        self._job = RefreshJob()
        #: Called with (database, table) when the catalog sees a table appear or change (its
        #: listing or description differs from the index); e.g. table-triggered pipelines.
        self.table_observers: list[Callable[[str, str], None]] = []

    @classmethod
    def from_config(cls, config: MLPlat) -> CatalogService:
        """The configured backend over an index in the state directory."""
        backend = CatalogBackend.create(config.catalog_backend, config)
        path = config.catalog_index_path
        path.parent.mkdir(parents=True, exist_ok=True)
        return cls(config, backend, CatalogIndex(path))

    # -- index --------------------------------------------------------------------------------
    @property
    def refresh_job(self) -> RefreshJob:
        """The running or last refresh job (``idle`` before the first one)."""
        return self._job

    def start_refresh(self, database: str | None = None) -> RefreshJob:
        """Start a background refresh (all databases, or one) and return its job.

        One job at a time: while one runs, this returns it (whatever ``database`` says)."""
        if database is not None:
            identifier(database, "database")
        with self._job_lock:
            if self._job.state == "running":
                return self._job
            job = RefreshJob(database)
            job.update(state="running", started=time.time(), message="Listing databases…")
            self._job = job
        threading.Thread(
            target=job.run,
            args=(lambda j: self.refresh(database, job=j),),
            name="mlplat-catalog-refresh",
            daemon=True,
        ).start()
        return job

    def refresh(
        self, database: str | None = None, describe_budget: int = 200, job: RefreshJob | None = None
    ) -> dict[str, Any]:
        """Re-read databases (or one) into the index, then describe up to ``describe_budget``
        tables whose columns are not indexed yet (so column search grows incrementally).

        Blocking; ``start_refresh`` runs it as a job, which gets the progress."""
        job = job or RefreshJob(database)
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
            job.update(databases_total=len(targets))
            tables = 0
            indexed = {d["name"] for d in self.index.databases()}
            for done, name in enumerate(targets):
                job.update(message=f"Listing the tables of {name}…")
                listing = self.backend.tables(name)
                before = {t.name: t for t in self.index.tables(name)} if name in indexed else None
                self.index.replace_database(name, listing, comment=known[name])
                if before is not None:  # not the first time this database is indexed
                    for entry in listing:
                        old = before.get(entry.name)
                        if old is None or (old.comment, old.type) != (entry.comment, entry.type):
                            self.table_changed(name, entry.name)
                tables += len(listing)
                job.update(databases_done=done + 1, tables_total=tables)
            described = self._describe_missing(targets, describe_budget, job)
        return {
            "databases": len(targets),
            "tables": tables,
            "described": described,
            "took_ms": round((time.monotonic() - started) * 1000, 1),
        }

    def _describe_missing(self, databases: list[str], budget: int, job: RefreshJob) -> int:
        done = checked = 0
        for database in databases:
            job.update(message=f"Reading the columns of {database}…")
            for entry in self.index.tables(database):
                if done >= budget:
                    job.update(tables_done=job.tables_total)
                    return done
                if not entry.columns:
                    self._indexed(self.backend.describe(database, entry.name))
                    done += 1
                checked += 1
                job.update(tables_done=checked)
        return done

    def table_changed(self, database: str, table: str) -> None:
        """Tell the observers that ``database.table`` appeared or changed (their errors are
        logged, never raised: the catalog works on)."""
        for observer in list(self.table_observers):
            try:
                observer(database, table)
            except Exception as err:
                log.warning("catalog: a table-change observer failed: %s", err)

    def _indexed(self, entry: TableEntry) -> None:
        """Store a described table; a description that differs from the indexed one is a
        change (schema, location, format, row count)."""
        old = self.index.table(entry.database, entry.name)
        self.index.upsert_table(entry)
        if old is not None and old.columns and _shape(old) != _shape(entry):
            self.table_changed(entry.database, entry.name)

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

    def completions(self, prefix: str, limit: int = 100) -> Completions:
        """Databases and tables starting with ``prefix`` (``de``, ``demo.ir``), for completion.

        Reads the index only, never the metastore: an empty index starts a background refresh
        and offers nothing until it is filled (completion must answer in milliseconds)."""
        if not COMPLETION_PREFIX.match(prefix):
            raise InvalidInput(f"invalid table name prefix {prefix[:40]!r}: use db.name")
        if not 1 <= limit <= MAX_SEARCH_RESULTS:
            raise InvalidInput(f"limit must be between 1 and {MAX_SEARCH_RESULTS}")
        if not self._indexed_or_refreshing():
            return Completions([], complete=False)
        return self.index.complete(prefix, limit)

    def completion_columns(self, tables: list[str]) -> dict[str, list[Column]]:
        """The indexed columns of each table (``db.name`` or a bare name) that the index knows;
        like :meth:`completions`, from the index alone."""
        if not tables or len(tables) > MAX_COMPLETION_TABLES:
            raise InvalidInput(f"ask for the columns of 1 to {MAX_COMPLETION_TABLES} tables")
        for table in tables:
            *database, name = table.split(".")
            if len(database) > 1:
                raise InvalidInput(f"invalid table {table[:80]!r}: use db.name or name")
            for part in database:
                identifier(part, "database")
            identifier(name, "table")
        if not self._indexed_or_refreshing():
            return {}
        found = {table: self.index.columns_of(table) for table in tables}
        return {table: list(columns) for table, columns in found.items() if columns is not None}

    def _indexed_or_refreshing(self) -> bool:
        """Whether the index holds anything; if not, a background refresh is started."""
        if self.index.count() or self.index.databases():
            return True
        self.start_refresh()
        return False

    def describe(self, database: str, table: str) -> TableEntry:
        self._known(database, table)
        entry = self.backend.describe(database, table)
        self._indexed(entry)
        return entry

    def preview(self, database: str, table: str, limit: int) -> Preview:
        maximum = self.config.catalog_preview_max_rows
        if not 1 <= limit <= maximum:
            raise InvalidInput(f"preview limit must be between 1 and {maximum} rows")
        self._known(database, table)
        return self.backend.preview(database, table, limit)

    def snapshot(self, database: str, table: str) -> Snapshot | None:
        """The table's current digest (None when the backend cannot tell cheaply)."""
        self._known(database, table)
        return self.backend.snapshot(database, table)

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


def _shape(entry: TableEntry) -> tuple[Any, ...]:
    return (entry.columns, entry.location, entry.format, entry.row_count, entry.type)
