"""The platform's search index of MLflow runs, registered models and model versions.

MLflow stays the store; this index is derived from it (:mod:`search.sync` keeps it current) so
that the one search answers from local SQL instead of many MLflow searches (run pages per
experiment chunk, numeric params checked in Python, versions looked up run by run).

It holds what the query language asks about: run names, status, times, experiment, latest
metrics, params (with their numeric value), tags and input dataset names; models and versions
with their names, descriptions, tags, aliases and times; experiments with their lifecycle.

One interface, two backends chosen by ``MLPlat.search_index_url``:

* :class:`SqliteIndex` (default): a file beside the catalog index, WAL mode (a sync writes
  while queries read); run names through an FTS5 trigram index (substring, case-insensitive,
  as MLflow's ``ILIKE '%word%'``);
* :class:`PostgresIndex` (a ``postgresql://`` URL): the same tables; names through a
  ``pg_trgm`` GIN index when the extension can be created.

Values of metrics, params and tags are in their own tables indexed by (name, value), so a
threshold or an equality is an index range scan.
"""

# SQL text here is composed only of this module's constants; every value is a bound parameter.
# ruff: noqa: S608

from __future__ import annotations

import logging
import math
import sqlite3
import threading
import time
from abc import ABC, abstractmethod
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, Unavailable
from jupyter_mlplat.search.language import Condition
from jupyter_mlplat.tracking.tags import PIPELINE_TAG

log = logging.getLogger(__name__)

#: A term matching at most this many runs drives a run query (``SearchIndex._run_plan``); more
#: common terms are checked run by run, newest first, which soon finds the first twenty.
SELECTIVE_RUNS = 1_000
#: The same for versions through their runs: a run scan probes only the runs with versions.
SELECTIVE_VERSIONS = 10_000
#: Ids per ``IN (...)`` list (SQLite allows 32766 parameters; keep statements small).
CHUNK = 500
#: The queries' SQLite page cache (KiB): an index of 100k runs is ~100 MB, a query reads a few.
READER_CACHE_KB = 32_768
_OPS = {"<": "<", "<=": "<=", ">": ">", ">=": ">=", "=": "=", "!=": "<>"}


# -- what the index holds and answers ------------------------------------------------------------


@dataclass
class RunDoc:
    """One MLflow run as indexed."""

    id: str
    experiment_id: str
    name: str
    status: str
    start_ms: int
    end_ms: int | None = None
    deleted: bool = False
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    datasets: list[str] = field(default_factory=list)


@dataclass
class ModelDoc:
    """One registered model as indexed (``aliases``: alias -> version)."""

    name: str
    description: str = ""
    updated_ms: int = 0
    latest: int = 0
    tags: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, int] = field(default_factory=dict)


@dataclass
class VersionDoc:
    """One model version as indexed."""

    name: str
    version: int
    run_id: str = ""
    description: str = ""
    created_ms: int = 0
    updated_ms: int = 0
    tags: dict[str, str] = field(default_factory=dict)


@dataclass
class PipelineRunDoc:
    """One Airflow DAG run as indexed (``assets``: what started an asset-triggered one)."""

    dag_id: str
    run_id: str
    state: str
    run_type: str = ""
    triggered_by: str = ""
    user: str = ""
    start_ms: int = 0
    end_ms: int | None = None
    assets: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        """What words match (lower-cased)."""
        parts = [self.dag_id, self.run_id, self.state, self.run_type, self.triggered_by,
                 self.user, *self.assets]  # fmt: skip
        return " ".join(p for p in parts if p).lower()


@dataclass
class PipelineRunHit:
    """A pipeline run found, with the MLflow runs its tasks logged (their ``mlplat.pipeline.``
    tags) and the model versions registered from those."""

    run: PipelineRunDoc
    mlflow_runs: list[tuple[str, str, str]] = field(default_factory=list)  # id, experiment, name
    versions: list[tuple[str, int]] = field(default_factory=list)


@dataclass
class RunHit:
    """A run found; ``metrics`` / ``params`` hold only the ones asked for."""

    id: str
    experiment_id: str
    experiment: str
    name: str
    status: str
    metrics: dict[str, float] = field(default_factory=dict)
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class VersionHit:
    """A model version found, with the run it came from when the query went through runs."""

    name: str
    version: int
    description: str = ""
    aliases: list[str] = field(default_factory=list)
    run: RunHit | None = None


@dataclass
class ModelHit:
    name: str
    description: str = ""
    latest: int = 0


@dataclass
class RunQuery:
    """Runs matching every condition, in experiments whose name holds every fragment."""

    where: list[Condition] = field(default_factory=list)
    experiments: list[str] = field(default_factory=list)


# -- the index -------------------------------------------------------------------------------------


class SearchIndex(ABC):
    """Runs, models and versions; queries (``runs``, ``versions``...) and sync writes."""

    #: the driver's parameter marker
    mark = "?"

    # -- backend primitives

    @abstractmethod
    def _rows(self, sql: str, values: Sequence[Any] = ()) -> list[Any]:
        """The rows a query returns (the readers' connection)."""

    @abstractmethod
    def _sync_rows(self, sql: str, values: Sequence[Any] = ()) -> list[Any]:
        """The rows a query returns on the sync's connection: its reads never wait for the
        queries' (nor they for its)."""

    @abstractmethod
    def _writing(self) -> Any:
        """A context manager: one write transaction; yields ``(execute, executemany)``."""

    #: the last ORDER BY key of runs (one the newest-first index holds)
    _tiebreak = "r.id DESC"
    #: a join whose left side is read first (SQLite's CROSS JOIN; PostgreSQL plans by cost)
    _join_first = "JOIN"

    @abstractmethod
    def _name_ids(self, value: str) -> tuple[str, list[Any]]:
        """A query of the runs (``run_id, start_ms``) whose name holds ``value`` (lower-cased)
        through an index, or "" when there is none for it."""

    def close(self) -> None:  # noqa: B027 (optional)
        """Release connections."""

    def _sql(self, sql: str) -> str:
        return sql if self.mark == "?" else sql.replace("?", self.mark)

    @abstractmethod
    def _columns(self, execute: Any, table: str) -> set[str]:
        """The column names of ``table`` (inside a write transaction)."""

    def _migrate(self) -> None:
        """Bring an index an older version made up to :data:`SCHEMA` in place (the tables
        exist), then create the current indexes. Schema 1 had no run start time beside the
        values: it is copied from the runs (seconds at 100k runs; logged), the value indexes
        are made again."""
        with self._writing() as (execute, _):
            if "start_ms" not in self._columns(execute, "run_metrics"):
                started = time.monotonic()
                log.info("jupyter_mlplat: search index: migrating to schema %d", SCHEMA)
                for statement in _statements(_VALUE_INDEXES):
                    name = statement.split(" ON ")[0].split()[-1]
                    execute(f"DROP INDEX IF EXISTS {name}", ())
                for table in _VALUE_TABLES:
                    execute(
                        f"ALTER TABLE {table} ADD COLUMN start_ms BIGINT NOT NULL DEFAULT 0", ()
                    )
                    execute(
                        f"UPDATE {table} SET start_ms = "
                        f"(SELECT r.start_ms FROM runs r WHERE r.id = {table}.run_id)",
                        (),
                    )
                    log.info("jupyter_mlplat: search index: %s migrated", table)
                log.info(
                    "jupyter_mlplat: search index: schema %d in %.1f s",
                    SCHEMA,
                    time.monotonic() - started,
                )
            for statement in _statements(_VALUE_INDEXES):
                execute(statement, ())
            execute(
                "INSERT INTO search_sync VALUES ('schema', ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                (str(SCHEMA),),
            )

    # -- sync state

    def state(self, key: str, default: str = "") -> str:
        rows = self._sync_rows("SELECT value FROM search_sync WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else default

    def set_state(self, values: dict[str, str]) -> None:
        """Store these sync states (only the changed ones: an unchanged index is not written,
        so the queries' page cache stays warm)."""
        current = dict(self._sync_rows("SELECT key, value FROM search_sync"))
        changed = [(k, str(v)) for k, v in values.items() if current.get(k) != str(v)]
        if not changed:
            return
        with self._writing() as (_, many):
            many(
                "INSERT INTO search_sync VALUES (?, ?) "
                "ON CONFLICT (key) DO UPDATE SET value = excluded.value",
                changed,
            )

    @property
    def ready(self) -> bool:
        """Whether a first full sync has finished (until then MLflow answers the search)."""
        return self._read_state("complete") == "1"

    @property
    def has_pipeline_runs(self) -> bool:
        """Whether a sync has read Airflow's runs."""
        return bool(self._read_state("pipeline_runs_since"))

    def _read_state(self, key: str) -> str:
        """A sync state read by a query (on the queries' connection: a sync writing for
        seconds never holds it up)."""
        rows = self._rows("SELECT value FROM search_sync WHERE key = ?", (key,))
        return str(rows[0][0]) if rows else ""

    # -- writes (the sync)

    def replace_experiments(self, experiments: Iterable[tuple[str, str, bool]]) -> bool:
        """Every experiment as (id, name, deleted); whether the deleted ones changed."""
        rows = [(i, n, n.lower(), int(d)) for i, n, d in experiments]
        current = self._sync_rows("SELECT id, name, name_lower, deleted FROM experiments")
        if {tuple(r) for r in current} == set(rows):
            return False
        before = {r[0] for r in current if r[3]}
        with self._writing() as (execute, many):
            execute("DELETE FROM experiments", ())
            many("INSERT INTO experiments VALUES (?, ?, ?, ?)", rows)
            changed = before != {r[0] for r in rows if r[3]}
            if changed:
                self._hide(execute)
        return changed

    @staticmethod
    def _hide(execute: Any) -> None:
        """Recompute which runs are hidden (deleted, or in a deleted experiment)."""
        execute(
            "UPDATE runs SET hidden = CASE WHEN deleted = 1 OR experiment_id IN "
            "(SELECT id FROM experiments WHERE deleted = 1) THEN 1 ELSE 0 END",
            (),
        )

    def upsert_runs(self, runs: Sequence[RunDoc], *, only_changed: bool = False) -> int:
        """Insert or replace runs with their values (one transaction); ``only_changed``:
        leave the ones indexed as they are alone (a sync reads the newest runs again)."""
        if only_changed and runs:
            current = self._run_docs([r.id for r in runs])
            runs = [r for r in runs if current.get(r.id) != _normalized(r)]
        if not runs:
            return 0
        hidden_experiments = {
            r[0] for r in self._sync_rows("SELECT id FROM experiments WHERE deleted = 1")
        }
        with self._writing() as (execute, many):
            many(
                "INSERT INTO runs (id, experiment_id, name, name_lower, status, start_ms, "
                "end_ms, deleted, hidden) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) "
                "DO UPDATE SET experiment_id = excluded.experiment_id, name = excluded.name, "
                "name_lower = excluded.name_lower, status = excluded.status, "
                "start_ms = excluded.start_ms, end_ms = excluded.end_ms, "
                "deleted = excluded.deleted, hidden = excluded.hidden",
                [
                    (r.id, r.experiment_id, r.name, r.name.lower(), r.status, r.start_ms,
                     r.end_ms, int(r.deleted),
                     int(r.deleted or r.experiment_id in hidden_experiments))
                    for r in runs
                ],
            )  # fmt: skip
            ids = [r.id for r in runs]
            versioned: set[str] = set()
            for chunk in _chunks(ids):
                versioned.update(
                    row[0]
                    for row in execute(
                        f"SELECT run_id FROM versions WHERE run_id IN ({_marks(len(chunk))})",
                        chunk,
                    ).fetchall()
                )
                for table in ("run_metrics", "run_params", "run_tags", "run_datasets"):
                    execute(f"DELETE FROM {table} WHERE run_id IN ({_marks(len(chunk))})", chunk)
            many(
                "INSERT INTO run_metrics (run_id, name, value, versioned, start_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r.id, k, v, int(r.id in versioned), r.start_ms) for r in runs
                 for k, v in r.metrics.items() if not math.isnan(v)],
            )  # fmt: skip
            many(
                "INSERT INTO run_params (run_id, name, value, number, versioned, start_ms) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [(r.id, k, v, _number(v), int(r.id in versioned), r.start_ms) for r in runs
                 for k, v in r.params.items()],
            )  # fmt: skip
            many(
                "INSERT INTO run_tags (run_id, name, value, versioned, start_ms) "
                "VALUES (?, ?, ?, ?, ?)",
                [(r.id, k, v, int(r.id in versioned), r.start_ms) for r in runs
                 for k, v in r.tags.items()],
            )  # fmt: skip
            many(
                "INSERT INTO run_datasets VALUES (?, ?)",
                [(r.id, d) for r in runs for d in sorted(set(r.datasets))],
            )
        return len(runs)

    def _run_docs(self, ids: list[str]) -> dict[str, RunDoc]:
        """These runs as indexed (those it holds)."""
        docs: dict[str, RunDoc] = {}
        for chunk in _chunks(ids):
            marks = _marks(len(chunk))
            for i, e, n, st, s, end, d in self._sync_rows(
                "SELECT id, experiment_id, name, status, start_ms, end_ms, deleted FROM runs "
                f"WHERE id IN ({marks})",
                chunk,
            ):
                docs[i] = RunDoc(i, e, n, st, int(s), None if end is None else int(end), bool(d))
            for table, field_name in (("run_metrics", "metrics"), ("run_params", "params"),
                                      ("run_tags", "tags")):  # fmt: skip
                for run_id, key, value in self._sync_rows(
                    f"SELECT run_id, name, value FROM {table} WHERE run_id IN ({marks})", chunk
                ):
                    if run_id in docs:
                        getattr(docs[run_id], field_name)[key] = value
            for run_id, name in self._sync_rows(
                f"SELECT run_id, name FROM run_datasets WHERE run_id IN ({marks}) ORDER BY name",
                chunk,
            ):
                if run_id in docs:
                    docs[run_id].datasets.append(name)
        return docs

    def set_deleted_runs(self, deleted: set[str]) -> int:
        """Mark exactly these runs deleted (the others active); how many changed."""
        before = {r[0] for r in self._sync_rows("SELECT id FROM runs WHERE deleted = 1")}
        now_deleted = sorted(deleted - before)
        restored = sorted(before - deleted)
        if not now_deleted and not restored:
            return 0
        with self._writing() as (execute, _):
            for value, ids in ((1, now_deleted), (0, restored)):
                for chunk in _chunks(ids):
                    execute(
                        f"UPDATE runs SET deleted = {value} WHERE id IN ({_marks(len(chunk))})",
                        chunk,
                    )
            self._hide(execute)
        return len(now_deleted) + len(restored)

    def refreshable_runs(self, ended_after_ms: int, started_after_ms: int) -> list[tuple[str, str]]:
        """(run id, experiment id) of runs to read again: still running (started after
        ``started_after_ms``), or ended after ``ended_after_ms`` (tags logged late)."""
        return [
            (r[0], r[1])
            for r in self._sync_rows(
                "SELECT id, experiment_id FROM runs WHERE deleted = 0 AND "
                "((status = 'RUNNING' AND start_ms >= ?) OR end_ms >= ?)",
                (started_after_ms, ended_after_ms),
            )
        ]

    def upsert_models(self, models: Sequence[ModelDoc], *, replace_all: bool = False) -> int:
        """Insert or replace models (with tags and aliases); ``replace_all``: drop the others
        and their versions (deleted in MLflow), and leave the unchanged ones alone."""
        gone: list[str] = []
        if replace_all:
            current = self._model_docs()
            keep = {m.name for m in models}
            gone = [name for name in current if name not in keep]
            models = [m for m in models if current.get(m.name) != m]
        if not models and not gone:
            return 0
        with self._writing() as (execute, many):
            if gone:
                for chunk in _chunks(gone):
                    for table in ("models", "model_tags", "model_aliases", "versions",
                                  "version_tags"):  # fmt: skip
                        execute(f"DELETE FROM {table} WHERE name IN ({_marks(len(chunk))})", chunk)
            many(
                "INSERT INTO models VALUES (?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET "
                "name_lower = excluded.name_lower, description = excluded.description, "
                "updated_ms = excluded.updated_ms, latest = excluded.latest",
                [(m.name, m.name.lower(), m.description, m.updated_ms, m.latest) for m in models],
            )
            names = [m.name for m in models]
            for table in ("model_tags", "model_aliases"):
                for chunk in _chunks(names):
                    execute(f"DELETE FROM {table} WHERE name IN ({_marks(len(chunk))})", chunk)
            many(
                "INSERT INTO model_tags VALUES (?, ?, ?)",
                [(m.name, k, v) for m in models for k, v in m.tags.items()],
            )
            many(
                "INSERT INTO model_aliases VALUES (?, ?, ?)",
                [(m.name, a, int(v)) for m in models for a, v in m.aliases.items()],
            )
        return len(models)

    def _model_docs(self) -> dict[str, ModelDoc]:
        """Every model as indexed (what a full read of MLflow's is compared with)."""
        docs = {
            n: ModelDoc(n, d or "", int(u), int(latest))
            for n, d, u, latest in self._sync_rows(
                "SELECT name, description, updated_ms, latest FROM models"
            )
        }
        for name, key, value in self._sync_rows("SELECT name, key, value FROM model_tags"):
            if name in docs:
                docs[name].tags[key] = value
        for name, alias, version in self._sync_rows(
            "SELECT name, alias, version FROM model_aliases"
        ):
            if name in docs:
                docs[name].aliases[alias] = int(version)
        return docs

    def _version_docs(self) -> dict[tuple[str, int], VersionDoc]:
        """Every version as indexed."""
        docs = {
            (n, int(v)): VersionDoc(n, int(v), r, d or "", int(c), int(u))
            for n, v, r, d, c, u in self._sync_rows(
                "SELECT name, version, run_id, description, created_ms, updated_ms FROM versions"
            )
        }
        for name, version, key, value in self._sync_rows(
            "SELECT name, version, key, value FROM version_tags"
        ):
            doc = docs.get((name, int(version)))
            if doc is not None:
                doc.tags[key] = value
        return docs

    def updated(self, table: str) -> dict[Any, int]:
        """Last update (ms) of every model (``models``: name -> ms) or version (``versions``:
        (name, version) -> ms) indexed: what a sync compares MLflow's with."""
        if table == "models":
            return {n: int(u) for n, u in self._sync_rows("SELECT name, updated_ms FROM models")}
        rows = self._sync_rows("SELECT name, version, updated_ms FROM versions")
        return {(n, int(v)): int(u) for n, v, u in rows}

    def upsert_versions(
        self, versions: Sequence[VersionDoc], *, of_models: Sequence[str] = (), every: bool = False
    ) -> int:
        """Insert or replace versions; first drop every version of ``of_models`` (or all but
        these, with ``every``: the unchanged ones are then left alone) so versions deleted in
        MLflow disappear."""
        gone: list[tuple[str, int]] = []
        if every:
            current = self._version_docs()
            keep = {(v.name, v.version) for v in versions}
            gone = [key for key in current if key not in keep]
            versions = [v for v in versions if current.get((v.name, v.version)) != v]
            if not versions and not gone and not of_models:
                return 0
        with self._writing() as (execute, many):
            for name, version in gone:
                for table in ("versions", "version_tags"):
                    execute(f"DELETE FROM {table} WHERE name = ? AND version = ?", (name, version))
            for chunk in _chunks(list(of_models)):
                for table in ("versions", "version_tags"):
                    execute(f"DELETE FROM {table} WHERE name IN ({_marks(len(chunk))})", chunk)
            many(
                "INSERT INTO versions VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (name, version) "
                "DO UPDATE SET name_lower = excluded.name_lower, run_id = excluded.run_id, "
                "description = excluded.description, created_ms = excluded.created_ms, "
                "updated_ms = excluded.updated_ms",
                [(v.name, v.version, v.name.lower(), v.run_id, v.description, v.created_ms,
                  v.updated_ms) for v in versions],
            )  # fmt: skip
            for v in versions:
                execute(
                    "DELETE FROM version_tags WHERE name = ? AND version = ?", (v.name, v.version)
                )
            many(
                "INSERT INTO version_tags VALUES (?, ?, ?, ?)",
                [(v.name, v.version, k, t) for v in versions for k, t in v.tags.items()],
            )
            # the values of runs with versions have their own (partial) indexes: a metric
            # threshold over versions reads those only (a flag left by a deleted version
            # costs a lookup, never a wrong answer: the query joins the versions)
            runs = sorted({v.run_id for v in versions if v.run_id})
            for chunk in _chunks(runs):
                for table in ("run_metrics", "run_params", "run_tags"):
                    execute(
                        f"UPDATE {table} SET versioned = 1 WHERE versioned = 0 AND run_id IN "
                        f"({_marks(len(chunk))})",
                        chunk,
                    )
        return len(versions)

    # -- pipeline runs (Airflow's, synced by search.sync.PipelineRunSync)

    def upsert_pipeline_runs(
        self, runs: Sequence[PipelineRunDoc], *, replace_all: bool = False
    ) -> int:
        """Insert or replace pipeline runs; ``replace_all``: these are all of them (the others
        were deleted in Airflow). Unchanged runs are left alone."""
        current = self.pipeline_run_docs()
        gone = [k for k in current if k not in {(r.dag_id, r.run_id) for r in runs}]
        changed = [r for r in runs if current.get((r.dag_id, r.run_id)) != r]
        if not changed and not (replace_all and gone):
            return 0
        with self._writing() as (execute, many):
            if replace_all:
                for dag_id, run_id in gone:
                    execute(
                        "DELETE FROM pipeline_runs WHERE dag_id = ? AND run_id = ?",
                        (dag_id, run_id),
                    )
            many(
                "INSERT INTO pipeline_runs VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                "ON CONFLICT (dag_id, run_id) DO UPDATE SET state = excluded.state, "
                "run_type = excluded.run_type, triggered_by = excluded.triggered_by, "
                "user_name = excluded.user_name, assets = excluded.assets, "
                "start_ms = excluded.start_ms, end_ms = excluded.end_ms, "
                "text_lower = excluded.text_lower",
                [(r.dag_id, r.run_id, r.state, r.run_type, r.triggered_by, r.user,
                  "\n".join(r.assets), r.start_ms, r.end_ms, r.text) for r in changed],
            )  # fmt: skip
        return len(changed)

    def pipeline_run_docs(self) -> dict[tuple[str, str], PipelineRunDoc]:
        """Every pipeline run as indexed (what the sync compares Airflow's with)."""
        return {
            (d, r): PipelineRunDoc(d, r, st, rt, tb, u, int(s), e, a.split("\n") if a else [])
            for d, r, st, rt, tb, u, a, s, e in self._sync_rows(
                "SELECT dag_id, run_id, state, run_type, triggered_by, user_name, assets, "
                "start_ms, end_ms FROM pipeline_runs"
            )
        }

    def pipeline_runs(
        self, words: Sequence[str], dag: str, state: str, limit: int
    ) -> list[PipelineRunHit]:
        """Pipeline runs holding every word (DAG, run id, state, trigger, user, assets), of a
        DAG whose id holds ``dag``, in ``state``; newest first."""
        conditions = ["1 = 1"]
        values: list[Any] = []
        for word in words:
            conditions.append("text_lower LIKE ? ESCAPE '\\'")
            values.append(_contains(word.lower()))
        if dag:
            conditions.append("lower(dag_id) LIKE ? ESCAPE '\\'")
            values.append(_contains(dag.lower()))
        if state:
            conditions.append("state = ?")
            values.append(state.lower())
        rows = self._rows(
            "SELECT dag_id, run_id, state, run_type, triggered_by, user_name, assets, start_ms, "
            f"end_ms FROM pipeline_runs WHERE {' AND '.join(conditions)} "
            "ORDER BY start_ms DESC, dag_id, run_id LIMIT ?",
            (*values, limit),
        )
        hits = {
            (d, r): PipelineRunHit(
                PipelineRunDoc(d, r, st, rt, tb, u, int(s), e, a.split("\n") if a else [])
            )
            for d, r, st, rt, tb, u, a, s, e in rows
        }
        self._fill_produced(hits)
        return list(hits.values())

    def _fill_produced(self, hits: dict[tuple[str, str], PipelineRunHit]) -> None:
        """The MLflow runs the pipeline runs' tasks logged (their tags name the DAG and the
        run), and the versions registered from them."""
        run_ids = sorted({run_id for _, run_id in hits})
        if not run_ids:
            return
        rows = self._rows(
            "SELECT d.value, t.value, r.id, r.experiment_id, r.name FROM run_tags t "
            "JOIN run_tags d ON d.run_id = t.run_id AND d.name = ? "
            "JOIN runs r ON r.id = t.run_id "
            f"WHERE t.name = ? AND t.value IN ({_marks(len(run_ids))}) AND r.hidden = 0 "
            "ORDER BY r.start_ms",
            (f"{PIPELINE_TAG}dag_id", f"{PIPELINE_TAG}run_id", *run_ids),
        )
        by_mlflow_run: dict[str, PipelineRunHit] = {}
        for dag_id, run_id, mlflow_run, experiment, name in rows:
            hit = hits.get((dag_id, run_id))
            if hit is not None:
                hit.mlflow_runs.append((mlflow_run, experiment, name))
                by_mlflow_run[mlflow_run] = hit
        ids = sorted(by_mlflow_run)
        for chunk in _chunks(ids):
            for run_id, name, version in self._rows(
                "SELECT run_id, name, version FROM versions WHERE run_id IN "
                f"({_marks(len(chunk))}) ORDER BY name, version",
                chunk,
            ):
                by_mlflow_run[run_id].versions.append((name, int(version)))

    def counts(self) -> dict[str, int]:
        """How many runs, models and versions the index holds (hidden runs left out)."""
        return {
            "runs": int(self._rows("SELECT count(*) FROM runs WHERE hidden = 0")[0][0]),
            "models": int(self._rows("SELECT count(*) FROM models")[0][0]),
            "versions": int(self._rows("SELECT count(*) FROM versions")[0][0]),
        }

    # -- queries

    def runs(
        self, query: RunQuery, limit: int, shown: Sequence[tuple[str, str]] = ()
    ) -> list[RunHit]:
        """Matching runs, newest first; ``shown``: (metric|param, key) values to return."""
        source, where, values, count = self._run_plan(query, SELECTIVE_RUNS)
        columns = "r.id, r.experiment_id, r.name, r.status"
        if source:
            rows = self._driven(
                source, count, limit,
                f"SELECT {columns} FROM {{d}} {self._join_first} runs r ON r.id = d.run_id "
                f"WHERE {' AND '.join(where)} ORDER BY d.start_ms DESC, d.run_id DESC LIMIT ?",
                (*values, limit),
            )  # fmt: skip
        else:
            rows = self._rows(
                f"SELECT {columns} FROM runs r WHERE {' AND '.join(where)} "
                f"ORDER BY r.start_ms DESC, {self._tiebreak} LIMIT ?",
                (*values, limit),
            )
        hits = [RunHit(i, e, "", n, s) for i, e, n, s in rows]
        self._fill_runs(hits, shown)
        return hits

    def versions(self, where: list[Condition], limit: int) -> list[VersionHit]:
        """Matching versions, newest first."""
        conditions, values = self._version_where(where)
        rows = self._rows(
            "SELECT v.name, v.version, v.description FROM versions v"
            + (f" WHERE {' AND '.join(conditions)}" if conditions else "")
            + " ORDER BY v.created_ms DESC, v.name, v.version DESC LIMIT ?",
            (*values, limit),
        )
        hits = [VersionHit(n, int(v), d or "") for n, v, d in rows]
        self._fill_aliases(hits)
        return hits

    def versions_by_run(
        self, runs: RunQuery, where: list[Condition], limit: int, shown: Sequence[str] = ()
    ) -> list[VersionHit]:
        """Versions whose run matches ``runs`` (and themselves ``where``), newest run first;
        ``shown``: metrics of the run to return."""
        source, run_where, run_values, count = self._run_plan(runs, SELECTIVE_VERSIONS, "v.run_id")
        version_where, version_values = self._version_where(where)
        # from the runs a selective term names to their versions, else the runs newest first
        # with their versions, each term checked on those only (correlated with v.run_id)
        join = self._join_first
        columns = "v.name, v.version, v.description, r.id, r.experiment_id, r.name, r.status"
        conditions = " AND ".join([*run_where, *version_where])
        if source:
            rows = self._driven(
                source, count, limit,
                f"SELECT {columns} FROM {{d}} {join} versions v ON v.run_id = d.run_id "
                f"{join} runs r ON r.id = v.run_id WHERE {conditions} "
                "ORDER BY d.start_ms DESC, d.run_id DESC, v.name, v.version DESC LIMIT ?",
                (*run_values, *version_values, limit),
            )  # fmt: skip
        else:
            rows = self._rows(
                f"SELECT {columns} FROM runs r {join} versions v ON v.run_id = r.id "
                f"WHERE {conditions} "
                f"ORDER BY r.start_ms DESC, {self._tiebreak}, v.name, v.version DESC LIMIT ?",
                (*run_values, *version_values, limit),
            )
        hits = [
            VersionHit(n, int(v), d or "", run=RunHit(ri, re, "", rn, rs))
            for n, v, d, ri, re, rn, rs in rows
        ]
        self._fill_runs([h.run for h in hits if h.run], [("metric", m) for m in shown])
        self._fill_aliases(hits)
        return hits

    def models(self, where: list[Condition], limit: int) -> list[ModelHit]:
        """Matching registered models, most recently updated first."""
        conditions: list[str] = []
        values: list[Any] = []
        for c in where:
            if c.what == "name":
                conditions.append("m.name_lower LIKE ? ESCAPE '\\'")
                values.append(_contains(str(c.value)))
            elif c.what == "model":
                conditions.append("m.name_lower = ?")
                values.append(c.value)
            elif c.what == "tag":
                conditions.append(
                    "EXISTS (SELECT 1 FROM model_tags t WHERE t.name = m.name AND t.key = ? "
                    f"AND t.value {_OPS[c.op]} ?)"
                )
                values += [c.key, c.value]
            else:
                raise InvalidInput(f"models cannot be searched by {c.what}")
        rows = self._rows(
            "SELECT m.name, m.description, m.latest FROM models m"
            + (f" WHERE {' AND '.join(conditions)}" if conditions else "")
            + " ORDER BY m.updated_ms DESC, m.name LIMIT ?",
            (*values, limit),
        )
        return [ModelHit(n, d or "", int(latest or 0)) for n, d, latest in rows]

    def _driven(
        self, source: str, count: int, limit: int, sql: str, values: Sequence[Any]
    ) -> list[Any]:
        """The rows of ``sql`` whose runs ``{d}`` lists: the driving term's ``count`` runs
        (``source``), newest first. Its index holds each run's start time, so only the newest
        ``limit`` runs are joined first; more (as many as the rows found per run read
        suggest, all when none were) only when the other terms left fewer than ``limit``
        rows: a run past those read sorts after all of them, so once ``limit`` rows are found
        they are the first ones."""
        cap = limit
        while True:
            bounded = cap < count
            d = (
                f"(SELECT run_id, start_ms FROM ({source}) AS s ORDER BY start_ms DESC, "
                f"run_id DESC{f' LIMIT {cap}' if bounded else ''}) AS d"
            )
            rows = self._rows(sql.replace("{d}", d), values)
            if len(rows) >= limit or not bounded:
                return rows
            cap = max(2 * cap, 3 * cap * limit // (2 * len(rows))) if rows else count

    def _run_plan(
        self, query: RunQuery, selective: int, key: str = "r.id"
    ) -> tuple[str, list[str], list[Any], int]:
        """How to find the runs of ``query``: (the query of the runs (``run_id, start_ms``)
        of its most selective term, or "" to scan runs newest first; WHERE conditions;
        values, the ids' first; how many runs the ids query lists).

        A term matching few runs (at most ``selective``, counted on its index) drives the
        query (:meth:`_driven`). Otherwise every term is checked run by run (``key``: the
        run id column they are correlated with), newest first, which stops at the limit
        after a few hundred runs at most."""
        where = ["r.hidden = 0"]
        values: list[Any] = []
        best: tuple[int, str, list[Any]] | None = None
        for fragment in query.experiments:
            where.append(
                "r.experiment_id IN (SELECT id FROM experiments WHERE name_lower LIKE ? "
                "ESCAPE '\\')"
            )
            values.append(_contains(fragment))
        for c in query.where:
            check, check_values, ids, ids_values = self._run_condition(c, key)
            if ids:
                count = self._count(c, ids, ids_values, selective + 1)
                if count <= selective and (best is None or count < best[0]):
                    if best is not None:  # the previous driver is checked like the others
                        where.append(f"r.id IN (SELECT run_id FROM ({best[1]}) AS p)")
                        values += best[2]
                    best = (count, ids, ids_values)
                    continue
            where.append(check)
            values += check_values
        if best is None:
            return "", where, values, 0
        return best[1], where, [*best[2], *values], best[0]

    def _count(self, c: Condition, ids: str, values: list[Any], cap: int) -> int:
        """How many runs ``ids`` lists, counting at most ``cap``."""
        return int(self._rows(f"SELECT count(*) FROM ({ids} LIMIT {cap}) AS c", values)[0][0])

    def _run_condition(self, c: Condition, key: str) -> tuple[str, list[Any], str, list[Any]]:
        """A condition on run ``r`` (checked run by run, ``key`` its id), and the query of the
        runs it holds for (``run_id, start_ms``; "" when there is no index to list them with; only
        runs with versions when ``key`` is the versions' ``v.run_id``)."""
        op = _OPS[c.op]
        if c.what == "name":
            ids, ids_values = self._name_ids(str(c.value))
            return "r.name_lower LIKE ? ESCAPE '\\'", [_contains(str(c.value))], ids, ids_values
        if c.what == "status":
            return "r.status = ?", [c.value], "", []
        if c.what == "dataset":
            ids = (
                "SELECT x.run_id, s.start_ms FROM run_datasets x JOIN runs s ON s.id = x.run_id "
                "WHERE x.name = ?"
            )
            check = f"EXISTS (SELECT 1 FROM run_datasets x WHERE x.run_id = {key} AND x.name = ?)"
            return check, [c.value], ids, [c.value]
        table, column = {
            "metric": ("run_metrics", "value"),
            "param": ("run_params", "value"),
            "param_number": ("run_params", "number"),
            "tag": ("run_tags", "value"),
        }[c.what]
        ids = f"SELECT run_id, start_ms FROM {table} WHERE name = ? AND {column} {op} ?"
        if key == "v.run_id":
            ids += " AND versioned = 1"
        check = (
            f"EXISTS (SELECT 1 FROM {table} x WHERE x.run_id = {key} AND x.name = ? "
            f"AND x.{column} {op} ?)"
        )
        return check, [c.key, c.value], ids, [c.key, c.value]

    @staticmethod
    def _version_where(where: list[Condition]) -> tuple[list[str], list[Any]]:
        conditions: list[str] = []
        values: list[Any] = []
        for c in where:
            if c.what == "name":
                conditions.append("v.name_lower LIKE ? ESCAPE '\\'")
                values.append(_contains(str(c.value)))
            elif c.what == "model":
                conditions.append("v.name_lower = ?")
                values.append(c.value)
            elif c.what == "version":
                conditions.append("v.version = ?")
                values.append(int(c.value))
            elif c.what == "tag":
                conditions.append(
                    "EXISTS (SELECT 1 FROM version_tags t WHERE t.name = v.name AND "
                    f"t.version = v.version AND t.key = ? AND t.value {_OPS[c.op]} ?)"
                )
                values += [c.key, c.value]
            else:
                raise InvalidInput(f"model versions cannot be searched by {c.what}")
        return conditions, values

    def _fill_runs(self, hits: list[RunHit], shown: Sequence[tuple[str, str]]) -> None:
        """Experiment names and the shown metric/param values of the runs found."""
        if not hits:
            return
        ids = sorted({h.id for h in hits})
        experiments = sorted({h.experiment_id for h in hits})
        names = dict(
            self._rows(
                f"SELECT id, name FROM experiments WHERE id IN ({_marks(len(experiments))})",
                experiments,
            )
        )
        by_id: dict[str, list[RunHit]] = {}
        for hit in hits:
            hit.experiment = names.get(hit.experiment_id, hit.experiment_id)
            by_id.setdefault(hit.id, []).append(hit)
        for prefix, table in (("metric", "run_metrics"), ("param", "run_params")):
            keys = sorted({k for p, k in shown if p == prefix})
            if not keys:
                continue
            rows = self._rows(
                f"SELECT run_id, name, value FROM {table} WHERE run_id IN "
                f"({_marks(len(ids))}) AND name IN ({_marks(len(keys))})",
                (*ids, *keys),
            )
            for run_id, key, value in rows:
                for hit in by_id[run_id]:
                    (hit.metrics if prefix == "metric" else hit.params)[key] = value

    def _fill_aliases(self, hits: list[VersionHit]) -> None:
        names = sorted({h.name for h in hits})
        if not names:
            return
        aliases: dict[tuple[str, int], list[str]] = {}
        for name, alias, version in self._rows(
            f"SELECT name, alias, version FROM model_aliases WHERE name IN ({_marks(len(names))}) "
            "ORDER BY alias",
            names,
        ):
            aliases.setdefault((name, int(version)), []).append(alias)
        for hit in hits:
            hit.aliases = aliases.get((hit.name, hit.version), [])


def index_for(config: MLPlat) -> SearchIndex:
    """The index the configuration names (a PostgreSQL URL, else the SQLite file)."""
    url = config.search_index_url.strip()
    if url.startswith(("postgresql://", "postgres://")):
        return PostgresIndex(url)
    if url:
        raise InvalidInput("search_index_url must be empty (SQLite) or a postgresql:// URL")
    return SqliteIndex(config.search_index_path)


def _normalized(run: RunDoc) -> RunDoc:
    """``run`` as the index stores it (no NaN metrics; datasets sorted, once each)."""
    return RunDoc(
        run.id, run.experiment_id, run.name, run.status, run.start_ms, run.end_ms, run.deleted,
        {k: v for k, v in run.metrics.items() if not math.isnan(v)}, dict(run.params),
        dict(run.tags), sorted(set(run.datasets)),
    )  # fmt: skip


def _statements(script: str) -> list[str]:
    return [s.strip() for s in script.split(";") if s.strip()]


def _marks(n: int) -> str:
    return ", ".join(["?"] * n)


def _chunks(items: list[str]) -> Iterator[list[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def _contains(value: str) -> str:
    """A LIKE pattern: ``value`` anywhere (its own % _ \\ taken literally)."""
    escaped = value.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def _number(value: str) -> float | None:
    """A param's numeric value (params are strings in MLflow), None when not a number."""
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return None if math.isnan(number) else number  # NaN compares with nothing


# -- SQLite --------------------------------------------------------------------------------------

_TABLES = """
CREATE TABLE IF NOT EXISTS experiments (
    id TEXT PRIMARY KEY, name TEXT NOT NULL, name_lower TEXT NOT NULL, deleted INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS runs (
    {run_key}
    id TEXT NOT NULL UNIQUE,
    experiment_id TEXT NOT NULL,
    name TEXT NOT NULL,
    name_lower TEXT NOT NULL,
    status TEXT NOT NULL,
    start_ms BIGINT NOT NULL,
    end_ms BIGINT,
    deleted INTEGER NOT NULL,
    hidden INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS runs_by_start ON runs (hidden, start_ms);
CREATE INDEX IF NOT EXISTS runs_by_status ON runs (status, start_ms);
CREATE INDEX IF NOT EXISTS runs_by_end ON runs (end_ms);
CREATE TABLE IF NOT EXISTS run_metrics (
    run_id TEXT NOT NULL, name TEXT NOT NULL, value {real} NOT NULL, versioned INTEGER NOT NULL,
    start_ms BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (run_id, name)
){without_rowid};
CREATE TABLE IF NOT EXISTS run_params (
    run_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, number {real},
    versioned INTEGER NOT NULL, start_ms BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (run_id, name)
){without_rowid};
CREATE TABLE IF NOT EXISTS run_tags (
    run_id TEXT NOT NULL, name TEXT NOT NULL, value TEXT NOT NULL, versioned INTEGER NOT NULL,
    start_ms BIGINT NOT NULL DEFAULT 0, PRIMARY KEY (run_id, name)
){without_rowid};
CREATE TABLE IF NOT EXISTS run_datasets (
    run_id TEXT NOT NULL, name TEXT NOT NULL, PRIMARY KEY (run_id, name)
){without_rowid};
CREATE INDEX IF NOT EXISTS run_datasets_by_name ON run_datasets (name);
CREATE TABLE IF NOT EXISTS models (
    name TEXT PRIMARY KEY, name_lower TEXT NOT NULL, description TEXT, updated_ms BIGINT NOT NULL,
    latest INTEGER NOT NULL
);
CREATE INDEX IF NOT EXISTS models_by_update ON models (updated_ms);
CREATE TABLE IF NOT EXISTS model_tags (
    name TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL, PRIMARY KEY (name, key)
);
CREATE TABLE IF NOT EXISTS model_aliases (
    name TEXT NOT NULL, alias TEXT NOT NULL, version INTEGER NOT NULL, PRIMARY KEY (name, alias)
);
CREATE TABLE IF NOT EXISTS versions (
    name TEXT NOT NULL, version INTEGER NOT NULL, name_lower TEXT NOT NULL, run_id TEXT NOT NULL,
    description TEXT, created_ms BIGINT NOT NULL, updated_ms BIGINT NOT NULL,
    PRIMARY KEY (name, version)
);
CREATE INDEX IF NOT EXISTS versions_by_created ON versions (created_ms);
CREATE INDEX IF NOT EXISTS versions_by_run ON versions (run_id);
CREATE INDEX IF NOT EXISTS versions_by_name ON versions (name_lower);
CREATE TABLE IF NOT EXISTS version_tags (
    name TEXT NOT NULL, version INTEGER NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
    PRIMARY KEY (name, version, key)
);
CREATE TABLE IF NOT EXISTS search_sync (key TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS pipeline_runs (
    dag_id TEXT NOT NULL, run_id TEXT NOT NULL, state TEXT NOT NULL, run_type TEXT NOT NULL,
    triggered_by TEXT NOT NULL, user_name TEXT NOT NULL, assets TEXT NOT NULL,
    start_ms BIGINT NOT NULL, end_ms BIGINT, text_lower TEXT NOT NULL,
    PRIMARY KEY (dag_id, run_id)
);
CREATE INDEX IF NOT EXISTS pipeline_runs_by_start ON pipeline_runs (start_ms);
"""

#: Bumped when the tables change; :meth:`SearchIndex._migrate` brings an older index up to it.
SCHEMA = 2

# A value's run start time is in the index with it (schema 2): a threshold lists its runs
# newest first from the index alone, so a query joins only the runs it shows.
_VALUE_INDEXES = """
CREATE INDEX IF NOT EXISTS run_metrics_by_value ON run_metrics (name, value, start_ms);
CREATE INDEX IF NOT EXISTS run_metrics_versioned ON run_metrics (name, value, start_ms)
    WHERE versioned = 1;
CREATE INDEX IF NOT EXISTS run_params_by_value ON run_params (name, value, start_ms);
CREATE INDEX IF NOT EXISTS run_params_by_number ON run_params (name, number, start_ms);
CREATE INDEX IF NOT EXISTS run_params_versioned ON run_params (name, value, start_ms)
    WHERE versioned = 1;
CREATE INDEX IF NOT EXISTS run_params_versioned_number ON run_params (name, number, start_ms)
    WHERE versioned = 1;
CREATE INDEX IF NOT EXISTS run_tags_by_value ON run_tags (name, value, start_ms);
CREATE INDEX IF NOT EXISTS run_tags_versioned ON run_tags (name, value, start_ms)
    WHERE versioned = 1;
"""
_VALUE_TABLES = ("run_metrics", "run_params", "run_tags")

# run names through an FTS5 trigram index kept by triggers (external content: the runs table)
_SQLITE_NAMES = """
CREATE VIRTUAL TABLE IF NOT EXISTS run_names USING fts5 (
    name_lower, content='runs', content_rowid='rid', tokenize='trigram'
);
CREATE TRIGGER IF NOT EXISTS runs_names_insert AFTER INSERT ON runs BEGIN
    INSERT INTO run_names (rowid, name_lower) VALUES (new.rid, new.name_lower);
END;
CREATE TRIGGER IF NOT EXISTS runs_names_delete AFTER DELETE ON runs BEGIN
    INSERT INTO run_names (run_names, rowid, name_lower) VALUES ('delete', old.rid, old.name_lower);
END;
CREATE TRIGGER IF NOT EXISTS runs_names_update AFTER UPDATE OF name_lower ON runs BEGIN
    INSERT INTO run_names (run_names, rowid, name_lower) VALUES ('delete', old.rid, old.name_lower);
    INSERT INTO run_names (rowid, name_lower) VALUES (new.rid, new.name_lower);
END;
"""


class SqliteIndex(SearchIndex):
    """The index in a SQLite file (or ``":memory:"``): a writer and a reader connection (WAL),
    so a sync never blocks a query."""

    _tiebreak = "r.rid DESC"  # the rowid: the end of every index, so runs_by_start sorts
    _join_first = "CROSS JOIN"

    def __init__(self, path: str | Path) -> None:
        self.path = str(path)
        memory = self.path == ":memory:"
        if not memory:
            Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._write_lock = threading.Lock()
        self._read_lock = threading.Lock()
        self._writer = self._connect()
        if not memory:
            self._writer.execute("PRAGMA journal_mode = WAL")
            self._writer.execute("PRAGMA synchronous = NORMAL")  # a lost sync is re-read
        try:
            schema = _TABLES.format(
                run_key="rid INTEGER PRIMARY KEY,", real="REAL", without_rowid=" WITHOUT ROWID"
            )
            self._writer.executescript(schema + _SQLITE_NAMES)
        except sqlite3.OperationalError as error:
            raise Unavailable(f"the search index needs SQLite with FTS5 trigram: {error}") from None
        self._migrate()
        self._reader = self._writer if memory else self._connect()
        if memory:
            self._read_lock = self._write_lock
        # the pages a query reads stay in memory between syncs (SQLite's default is 2 MB)
        self._reader.execute(f"PRAGMA cache_size = -{READER_CACHE_KB}")

    def _columns(self, execute: Any, table: str) -> set[str]:
        return {row[1] for row in execute(f"PRAGMA table_info({table})", ()).fetchall()}

    def _connect(self) -> sqlite3.Connection:
        return sqlite3.connect(
            self.path, timeout=30.0, isolation_level=None, check_same_thread=False
        )

    def _rows(self, sql: str, values: Sequence[Any] = ()) -> list[Any]:
        with self._read_lock:
            return self._reader.execute(sql, tuple(values)).fetchall()

    def _sync_rows(self, sql: str, values: Sequence[Any] = ()) -> list[Any]:
        with self._write_lock:
            return self._writer.execute(sql, tuple(values)).fetchall()

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with self._write_lock:
            conn = self._writer
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield (
                    lambda sql, values: conn.execute(sql, tuple(values)),
                    lambda sql, rows: conn.executemany(sql, rows) if rows else None,
                )
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")

    def _count(self, c: Condition, ids: str, values: list[Any], cap: int) -> int:
        if c.what == "name":  # counted on the FTS table alone: it stops at the cap
            sql = "SELECT count(*) FROM (SELECT rowid FROM run_names WHERE run_names MATCH ?"
            return int(self._rows(f"{sql} LIMIT {cap})", values)[0][0])
        return super()._count(c, ids, values, cap)

    def _name_ids(self, value: str) -> tuple[str, list[Any]]:
        if len(value) < 3:  # a trigram needs three characters
            return "", []
        phrase = '"' + value.replace('"', '""') + '"'
        return (
            "SELECT id AS run_id, start_ms FROM runs WHERE rid IN "
            "(SELECT rowid FROM run_names WHERE run_names MATCH ?)",
            [phrase],
        )

    def close(self) -> None:
        with self._write_lock:
            self._writer.close()
            if self._reader is not self._writer:
                self._reader.close()


# -- PostgreSQL ----------------------------------------------------------------------------------


class PostgresIndex(SearchIndex):
    """The index in PostgreSQL (``schema`` names where its tables live; created if missing).

    One connection for queries and one for the sync, each reopened when it breaks."""

    mark = "%s"

    def __init__(self, url: str, schema: str = "mlplat_search") -> None:
        self.url = url
        self.schema = schema
        self._read_lock = threading.Lock()
        self._write_lock = threading.Lock()
        self._reader: Any = None
        self._writer: Any = None
        with self._write_lock:
            conn = self._connection("_writer")
            with conn.transaction():
                conn.execute(f'CREATE SCHEMA IF NOT EXISTS "{schema}"')
                conn.execute(f'SET search_path TO "{schema}"')
                conn.execute(_TABLES.format(run_key="", real="DOUBLE PRECISION", without_rowid=""))
        self._migrate()
        with self._write_lock:
            self.trigrams = self._trigram_index(self._connection("_writer"))

    def _columns(self, execute: Any, table: str) -> set[str]:
        rows = execute(
            "SELECT column_name FROM information_schema.columns WHERE table_schema = ? "
            "AND table_name = ?",
            (self.schema, table),
        ).fetchall()
        return {row[0] for row in rows}

    def _trigram_index(self, conn: Any) -> bool:
        """Run names by trigrams (pg_trgm) when the extension exists or may be created."""
        import psycopg

        try:
            with conn.transaction():
                conn.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
                conn.execute(
                    "CREATE INDEX IF NOT EXISTS runs_by_name ON runs "
                    "USING GIN (name_lower gin_trgm_ops)"
                )
        except psycopg.Error:
            return False  # names are then matched by a scan
        return True

    def _connection(self, which: str) -> Any:
        import psycopg

        conn = getattr(self, which)
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        try:
            conn = psycopg.connect(self.url, connect_timeout=10, autocommit=True)
        except psycopg.OperationalError as err:
            first = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
            raise Unavailable(f"the search index (PostgreSQL) is unreachable: {first}") from None
        conn.execute(f'SET search_path TO "{self.schema}"')
        setattr(self, which, conn)
        return conn

    def _rows(self, sql: str, values: Sequence[Any] = ()) -> list[Any]:
        with self._read_lock:
            return self._on("_reader", sql, values)

    def _sync_rows(self, sql: str, values: Sequence[Any] = ()) -> list[Any]:
        with self._write_lock:
            return self._on("_writer", sql, values)

    def _on(self, which: str, sql: str, values: Sequence[Any]) -> list[Any]:
        """The rows of a query on one of the two connections (its lock held)."""
        import psycopg

        try:
            return list(self._connection(which).execute(self._sql(sql), values))
        except psycopg.OperationalError as err:
            raise Unavailable(f"the search index (PostgreSQL): {err}") from None

    @contextmanager
    def _writing(self) -> Iterator[Any]:
        with self._write_lock:
            conn = self._connection("_writer")

            def many(sql: str, rows: list[Any]) -> None:
                if rows:
                    with conn.cursor() as cursor:
                        cursor.executemany(self._sql(sql), rows)

            with conn.transaction():
                yield (lambda sql, values: conn.execute(self._sql(sql), values), many)

    def _name_ids(self, value: str) -> tuple[str, list[Any]]:
        if not self.trigrams or len(value) < 3:
            return "", []
        return "SELECT id AS run_id, start_ms FROM runs WHERE name_lower LIKE ? ESCAPE '\\'", [
            _contains(value)
        ]

    def close(self) -> None:
        for which in ("_reader", "_writer"):
            conn = getattr(self, which)
            if conn is not None:
                conn.close()
                setattr(self, which, None)
