"""Search index of evaluation reports, derived from MLflow (the reports' central store).

MLflow keeps each report: an evaluation run with its metrics, tags and ``report.json`` /
``report.html`` artifacts. The index holds one summary row per report run, kept current by an
incremental sync (:func:`jupyter_mlplat.reports.service.sync`), and answers queries MLflow's
run search cannot (metric thresholds across experiments, words, champion verdicts).

One interface, two backends chosen by ``MLPlat.reports_index_url``:

* :class:`SqliteIndex` (default): a file beside the catalog index; words through FTS5;
* :class:`PostgresIndex` (a ``postgresql://`` URL): words through a ``tsvector`` GIN index;
  where a cluster's MLflow runs on PostgreSQL, the index can live in the same server.

Both keep metrics in their own table (report, name, value) indexed by (name, value), so a
threshold is an index range scan.
"""

# SQL text here is composed only of this module's constants; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import json
import sqlite3
import threading
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, Unavailable
from jupyter_mlplat.reports.query import MetricFilter, Query

MAX_LIMIT = 500
CURSOR_KEY = "mlflow_start_time"


@dataclass
class ReportSummary:
    """What the index knows of one report (the REST search's entries)."""

    id: str
    model: str
    version: str
    created: str  # ISO 8601, UTC
    created_ms: int
    table: str
    digest: str
    model_type: str
    label: str = ""
    rows: int = 0
    metrics: dict[str, float] = field(default_factory=dict)
    #: {"version", "alias", "report_id", "verdict", "verdict_counts": {better, worse, same}}
    champion: dict[str, Any] | None = None

    @property
    def verdict(self) -> str:
        """The champion comparison in one word: better | worse | same | none."""
        return str(self.champion.get("verdict", "same")) if self.champion else "none"

    def text(self) -> str:
        """What free words are matched against."""
        parts = [self.model, self.table, self.label, self.model_type, f"v{self.version}"]
        parts += list(self.metrics)
        return " ".join(p for p in parts if p)

    def to_json(self) -> dict[str, Any]:
        data = asdict(self)
        data.pop("created_ms")
        return data


class ReportIndex(ABC):
    """Summaries of reports, searchable by the query language of :mod:`reports.query`."""

    @abstractmethod
    def upsert(self, summaries: Iterable[ReportSummary]) -> int:
        """Insert or replace summaries (one transaction); how many were written."""

    #: The driver's parameter marker.
    mark = "?"

    @abstractmethod
    def _rows(self, sql: str, values: tuple[Any, ...]) -> list[Any]:
        """The rows a query returns."""

    @abstractmethod
    def _write(self, sql: str, values: tuple[Any, ...]) -> None:
        """Run one statement in its own transaction."""

    @abstractmethod
    def _word_condition(self, words: list[str]) -> tuple[list[str], list[Any]]:
        """WHERE conditions matching free words, with their values."""

    def search(self, query: Query, limit: int = 50) -> list[ReportSummary]:
        """Matching reports, newest first."""
        limit = check_limit(limit)
        where, values = _conditions(query, self.mark)
        words = _words(query)
        if words:
            more, more_values = self._word_condition(words)
            where += more
            values += more_values
        sql = (
            f"SELECT {_COLUMNS} FROM reports r "
            + (f"WHERE {' AND '.join(where)} " if where else "")
            + f"ORDER BY r.created_ms DESC, r.id LIMIT {self.mark}"
        )
        return [_row_summary(row) for row in self._rows(sql, (*values, limit))]

    def cursor(self) -> int:
        """Where the next sync starts (an MLflow start time in ms; 0 at first)."""
        rows = self._rows(f"SELECT value FROM report_sync WHERE key = {self.mark}", (CURSOR_KEY,))
        return int(rows[0][0]) if rows else 0

    def set_cursor(self, value: int) -> None:
        """Remember where the next sync starts."""
        self._write(
            f"INSERT INTO report_sync VALUES ({self.mark}, {self.mark}) "
            "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            (CURSOR_KEY, int(value)),
        )

    def close(self) -> None:  # noqa: B027 (optional)
        """Release connections."""


def index_for(config: MLPlat) -> ReportIndex:
    """The index the configuration names (a PostgreSQL URL, else the SQLite file)."""
    url = config.reports_index_url.strip()
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresIndex(url)
    if url:
        raise InvalidInput("reports_index_url must be empty (SQLite) or a postgresql:// URL")
    return SqliteIndex(config.reports_index_path)


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
    return limit


def _words(query: Query) -> list[str]:
    return [w for w in query.words if any(ch.isalnum() for ch in w)]


def _row_summary(row: Any) -> ReportSummary:
    """A summary from the stored columns (same order in both backends)."""
    (id_, model, version, created, created_ms, table, digest, model_type, label, rows,
     metrics, champion) = row  # fmt: skip
    return ReportSummary(
        id=id_,
        model=model,
        version=version,
        created=created,
        created_ms=int(created_ms),
        table=table,
        digest=digest,
        model_type=model_type,
        label=label,
        rows=int(rows),
        metrics=json.loads(metrics) if isinstance(metrics, str) else dict(metrics or {}),
        champion=(json.loads(champion) if isinstance(champion, str) else champion) or None,
    )


def _stored(s: ReportSummary) -> tuple[Any, ...]:
    """A summary's columns, in table order (both backends)."""
    champion = json.dumps(s.champion) if s.champion else None
    return (s.id, s.model, s.model.lower(), s.version, s.created, s.created_ms, s.table,
            s.table.lower(), s.digest, s.model_type, s.label, s.rows, json.dumps(s.metrics),
            champion, s.verdict)  # fmt: skip


_COLUMNS = (
    "r.id, r.model, r.version, r.created, r.created_ms, r.table_name, r.digest, r.model_type, "
    "r.label, r.rows, r.metrics, r.champion"
)


def _conditions(query: Query, mark: str) -> tuple[list[str], list[Any]]:
    """WHERE conditions shared by both backends (``mark``: the driver's parameter marker)."""
    where: list[str] = []
    values: list[Any] = []
    equal = {"model": "r.model_lower", "table": "r.table_lower", "version": "r.version",
             "type": "r.model_type", "champion": "r.verdict"}  # fmt: skip
    for name, value in query.fields.items():
        if name == "digest":
            where.append(f"r.digest LIKE {mark}")
            values.append(value + "%")
        else:
            where.append(f"{equal[name]} = {mark}")
            values.append(value.lower() if name in ("model", "table") else value)
    for metric in query.metrics:
        where.append(_metric_condition(metric, mark))
        values += [metric.metric, metric.value]
    return where, values


def _metric_condition(metric: MetricFilter, mark: str) -> str:
    return (
        "EXISTS (SELECT 1 FROM report_metrics m WHERE m.report_id = r.id "
        f"AND m.name = {mark} AND m.value {metric.op} {mark})"
    )


# -- SQLite ------------------------------------------------------------------------------------

_SQLITE_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    model_lower TEXT NOT NULL,
    version TEXT NOT NULL,
    created TEXT NOT NULL,
    created_ms INTEGER NOT NULL,
    table_name TEXT NOT NULL,
    table_lower TEXT NOT NULL,
    digest TEXT NOT NULL,
    model_type TEXT NOT NULL,
    label TEXT NOT NULL,
    rows INTEGER NOT NULL,
    metrics TEXT NOT NULL,
    champion TEXT,
    verdict TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_created ON reports (created_ms);
CREATE INDEX IF NOT EXISTS reports_by_model ON reports (model_lower, version);
CREATE INDEX IF NOT EXISTS reports_by_table ON reports (table_lower);
CREATE TABLE IF NOT EXISTS report_metrics (
    report_id TEXT NOT NULL,
    name TEXT NOT NULL,
    value REAL NOT NULL,
    PRIMARY KEY (report_id, name)
) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS report_metrics_by_value ON report_metrics (name, value);
CREATE VIRTUAL TABLE IF NOT EXISTS report_text USING fts5 (report_id UNINDEXED, body);
CREATE TABLE IF NOT EXISTS report_sync (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
"""


class SqliteIndex(ReportIndex):
    """The index in a SQLite file (or ``":memory:"``): one writer at a time, WAL mode."""

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        if self.path != ":memory:":
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(
            self.path, timeout=10.0, isolation_level=None, check_same_thread=False
        )
        if self.path != ":memory:":
            self._conn.execute("PRAGMA journal_mode = WAL")
        try:
            self._conn.executescript(_SQLITE_SCHEMA)
        except sqlite3.OperationalError as error:
            raise Unavailable(f"the reports index needs SQLite with FTS5: {error}") from None

    @contextmanager
    def _writing(self) -> Iterator[sqlite3.Connection]:
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield self._conn
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def upsert(self, summaries: Iterable[ReportSummary]) -> int:
        count = 0
        with self._writing() as conn:
            for s in summaries:
                conn.execute("DELETE FROM report_metrics WHERE report_id = ?", (s.id,))
                conn.execute("DELETE FROM report_text WHERE report_id = ?", (s.id,))
                conn.execute(
                    "INSERT OR REPLACE INTO reports VALUES "
                    "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    _stored(s),
                )
                conn.executemany(
                    "INSERT INTO report_metrics VALUES (?, ?, ?)",
                    [(s.id, k, float(v)) for k, v in s.metrics.items()],
                )
                conn.execute("INSERT INTO report_text VALUES (?, ?)", (s.id, s.text()))
                count += 1
        return count

    def _rows(self, sql: str, values: tuple[Any, ...]) -> list[Any]:
        with self._lock:
            return self._conn.execute(sql, values).fetchall()

    def _write(self, sql: str, values: tuple[Any, ...]) -> None:
        with self._writing() as conn:
            conn.execute(sql, values)

    def _word_condition(self, words: list[str]) -> tuple[list[str], list[Any]]:
        # each word a quoted FTS5 phrase: matched literally ("demo.iris" = demo iris)
        match = " AND ".join('"' + w.replace('"', '""') + '"' for w in words)
        return ["r.id IN (SELECT report_id FROM report_text WHERE report_text MATCH ?)"], [match]

    def close(self) -> None:
        with self._lock:
            self._conn.close()


# -- PostgreSQL --------------------------------------------------------------------------------

_POSTGRES_SCHEMA = """
CREATE TABLE IF NOT EXISTS reports (
    id TEXT PRIMARY KEY,
    model TEXT NOT NULL,
    model_lower TEXT NOT NULL,
    version TEXT NOT NULL,
    created TEXT NOT NULL,
    created_ms BIGINT NOT NULL,
    table_name TEXT NOT NULL,
    table_lower TEXT NOT NULL,
    digest TEXT NOT NULL,
    model_type TEXT NOT NULL,
    label TEXT NOT NULL,
    rows BIGINT NOT NULL,
    metrics JSONB NOT NULL,
    champion JSONB,
    verdict TEXT NOT NULL,
    document TSVECTOR NOT NULL
);
CREATE INDEX IF NOT EXISTS reports_by_created ON reports (created_ms);
CREATE INDEX IF NOT EXISTS reports_by_model ON reports (model_lower, version);
CREATE INDEX IF NOT EXISTS reports_by_table ON reports (table_lower);
CREATE INDEX IF NOT EXISTS reports_document ON reports USING GIN (document);
CREATE TABLE IF NOT EXISTS report_metrics (
    report_id TEXT NOT NULL REFERENCES reports (id) ON DELETE CASCADE,
    name TEXT NOT NULL,
    value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (report_id, name)
);
CREATE INDEX IF NOT EXISTS report_metrics_by_value ON report_metrics (name, value);
CREATE TABLE IF NOT EXISTS report_sync (key TEXT PRIMARY KEY, value BIGINT NOT NULL);
"""


class PostgresIndex(ReportIndex):
    """The index in PostgreSQL (``schema`` names where its tables live; created if missing)."""

    mark = "%s"

    def __init__(self, url: str, schema: str = "mlplat_reports") -> None:
        self.url = url
        self.schema = schema
        with self._connect() as conn:
            conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
            conn.execute(f'SET search_path TO "{schema}"')
            conn.execute(_POSTGRES_SCHEMA)

    def _connect(self) -> Any:
        import psycopg

        try:
            conn = psycopg.connect(self.url, connect_timeout=10, autocommit=False)
        except psycopg.OperationalError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise Unavailable(f"the reports index (PostgreSQL) is unreachable: {first}") from None
        conn.execute(f'SET search_path TO "{self.schema}"')
        return conn

    def upsert(self, summaries: Iterable[ReportSummary]) -> int:
        count = 0
        with self._connect() as conn, conn.transaction():
            for s in summaries:
                conn.execute("DELETE FROM reports WHERE id = %s", (s.id,))
                conn.execute(
                    "INSERT INTO reports VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, "
                    "%s, %s::jsonb, %s::jsonb, %s, to_tsvector('simple', %s))",
                    (*_stored(s), s.text()),
                )
                with conn.cursor() as cursor:
                    cursor.executemany(
                        "INSERT INTO report_metrics VALUES (%s, %s, %s)",
                        [(s.id, k, float(v)) for k, v in s.metrics.items()],
                    )
                count += 1
        return count

    def _rows(self, sql: str, values: tuple[Any, ...]) -> list[Any]:
        with self._connect() as conn:
            return list(conn.execute(sql, values).fetchall())

    def _write(self, sql: str, values: tuple[Any, ...]) -> None:
        with self._connect() as conn:
            conn.execute(sql, values)

    def _word_condition(self, words: list[str]) -> tuple[list[str], list[Any]]:
        # a phrase query per word: tokenised like the document ("demo.iris" = demo <-> iris)
        return ["r.document @@ phraseto_tsquery('simple', %s)"] * len(words), list(words)
