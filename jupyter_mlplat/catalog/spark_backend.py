"""Catalog backend that reads the metastore through Spark (Connect): the platform default."""

from __future__ import annotations

import datetime as dt
import decimal
import re
import threading
from collections.abc import Callable
from typing import Any

from jupyter_mlplat.catalog.backend import CatalogBackend, Preview
from jupyter_mlplat.catalog.index import Column, TableEntry
from jupyter_mlplat.catalog.snapshot import Snapshot, snapshot
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import NotFound, Unavailable

_ROWS = re.compile(r"(\d+) rows")


class SparkCatalogBackend(CatalogBackend):
    """Lists databases, tables and columns with Spark's catalog API and ``DESCRIBE``."""

    name = "spark"

    def __init__(self, config: MLPlat, session_factory: Callable[[], Any] | None = None) -> None:
        self.config = config
        self._factory = session_factory or self._connect
        self._session: Any = None
        self._lock = threading.Lock()

    # -- session ------------------------------------------------------------------------------
    def _connect(self) -> Any:
        from pyspark.sql import SparkSession

        from jupyter_mlplat.spark.backends import backend_for

        endpoint = backend_for(self.config).endpoint()
        return SparkSession.builder.remote(endpoint.remote).create()

    def _call(self, action: Callable[[Any], Any]) -> Any:
        """Run ``action(spark)``; reconnect once if the server went away."""
        for attempt in (1, 2):
            with self._lock:
                if self._session is None:
                    try:
                        self._session = self._factory()
                    except Unavailable:
                        raise
                    except Exception as err:
                        raise Unavailable(f"Spark is not reachable: {_first_line(err)}") from err
                session = self._session
            try:
                return action(session)
            except Exception as err:
                if _is_not_found(err):
                    raise NotFound(_first_line(err)) from err
                if attempt == 2 or not _is_connection_error(err):
                    raise Unavailable(f"Spark failed: {_first_line(err)}") from err
                with self._lock:
                    self._session = None
        raise AssertionError("unreachable")

    # -- catalog ------------------------------------------------------------------------------
    def databases(self) -> list[tuple[str, str]]:
        return self._call(
            lambda spark: [(d.name, d.description or "") for d in spark.catalog.listDatabases()]
        )

    def tables(self, database: str) -> list[TableEntry]:
        def listing(spark: Any) -> list[TableEntry]:
            return [
                TableEntry(
                    database=database,
                    name=t.name,
                    comment=t.description or "",
                    type=(t.tableType or "MANAGED").upper(),
                )
                for t in spark.catalog.listTables(database)
                if not t.isTemporary
            ]

        return self._call(listing)

    def describe(self, database: str, table: str) -> TableEntry:
        rows = self._call(
            lambda spark: spark.sql(f"DESCRIBE TABLE EXTENDED `{database}`.`{table}`").collect()
        )
        return parse_describe(database, table, [(r[0], r[1], r[2]) for r in rows])

    def preview(self, database: str, table: str, limit: int) -> Preview:
        def fetch(spark: Any) -> Any:
            return spark.table(f"`{database}`.`{table}`").limit(limit + 1).toArrow()

        arrow = self._call(fetch)
        rows = [[_json_value(v) for v in row.values()] for row in arrow.to_pylist()]
        return Preview(
            columns=[{"name": f.name, "type": str(f.type)} for f in arrow.schema],
            rows=rows[:limit],
            limit=limit,
            truncated=len(rows) > limit,
        )

    def snapshot(self, database: str, table: str) -> Snapshot:
        # the server's session only observes: kernels and pipelines write the tables
        return self._call(lambda spark: snapshot(spark, f"`{database}`.`{table}`", refresh=True))

    def close(self) -> None:
        with self._lock:
            if self._session is not None:
                try:
                    self._session.stop()
                finally:
                    self._session = None


def parse_describe(database: str, table: str, rows: list[tuple[Any, Any, Any]]) -> TableEntry:
    """A table entry from the rows of ``DESCRIBE TABLE EXTENDED``."""
    columns: list[Column] = []
    partitions: list[str] = []
    details: dict[str, str] = {}
    section = "columns"
    for raw_name, value, comment in rows:
        name = (raw_name or "").strip()
        if not name or name == "# col_name":  # blank separators, column headers
            continue
        if name.startswith("#"):
            section = {
                "# Partition Information": "partitions",
                "# Detailed Table Information": "details",
            }.get(name, "other")
            continue
        if section == "columns":
            columns.append(Column(name, value or "", True, comment or ""))
        elif section == "partitions":
            partitions.append(name)
        elif section == "details":
            details[name] = value or ""
    columns = [
        Column(c.name, c.type, c.nullable, c.comment, partition=c.name in partitions)
        for c in columns
    ]
    rows_match = _ROWS.search(details.get("Statistics", ""))
    return TableEntry(
        database=database,
        name=table,
        comment=details.get("Comment", ""),
        type=details.get("Type", "MANAGED").upper(),
        columns=tuple(columns),
        format=details.get("Provider", ""),
        location=details.get("Location", ""),
        row_count=int(rows_match.group(1)) if rows_match else None,
        partition_columns=tuple(partitions),
    )


def _json_value(value: Any) -> Any:
    """A JSON-safe form of a value Arrow gives back."""
    converted: Any
    if value is None or isinstance(value, bool | int | float | str):
        converted = value
    elif isinstance(value, decimal.Decimal):
        converted = float(value)
    elif isinstance(value, dt.date | dt.datetime | dt.time):
        converted = value.isoformat()
    elif isinstance(value, bytes):
        converted = value.hex()
    elif isinstance(value, list | tuple):
        converted = [_json_value(v) for v in value]
    elif isinstance(value, dict):
        converted = {str(k): _json_value(v) for k, v in value.items()}
    else:
        converted = str(value)
    return converted


def _first_line(err: BaseException) -> str:
    text = str(err).strip() or type(err).__name__
    return text.splitlines()[0][:300]


_NOT_FOUND = ("TABLE_OR_VIEW_NOT_FOUND", "SCHEMA_NOT_FOUND", "NoSuchTable", "NoSuchDatabase")


def _is_not_found(err: BaseException) -> bool:
    return any(marker in str(err) for marker in _NOT_FOUND)


def _is_connection_error(err: BaseException) -> bool:
    text = str(err)
    return any(
        marker in text
        for marker in (
            "UNAVAILABLE",
            "INVALID_HANDLE",
            "SESSION_CLOSED",
            "SESSION_NOT_FOUND",
            "NO_ACTIVE_SESSION",  # the server restarted: our session is gone
        )
    )
