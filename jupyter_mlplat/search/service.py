"""The one search: a query (:mod:`search.language`) answered by the platform's local indexes.

Models, versions and runs come from the search index (:mod:`search.index`), which the server
keeps in step with MLflow (:mod:`search.sync`); until its first full sync has finished (or where
no sync runs) MLflow's own search answers them (filter strings over every experiment the user
can see). Tables and columns come from the catalog index; reports from the reports index;
pipelines from the project's DAG files and Airflow; deployments from the deploy records.
Results are grouped by kind; each carries the ``target`` the lab opens (a panel and the item).
A backend that cannot be reached leaves its kinds out with a note, never the whole search.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.registry import Registry, mlflow_call
from jupyter_mlplat.errors import InvalidInput, MLPlatError, Unavailable
from jupyter_mlplat.search.index import (
    ModelHit,
    PipelineRunHit,
    RunHit,
    RunQuery,
    SearchIndex,
    VersionHit,
    index_for,
)
from jupyter_mlplat.search.language import (
    KINDS,
    MLFLOW_KINDS,
    ClausePlan,
    compile_query,
    parse_kinds,
    quoted,
)
from jupyter_mlplat.search.sync import IndexSync, PipelineRunSync
from jupyter_mlplat.tracking.ui import run_ui_path

if TYPE_CHECKING:
    import logging

    from mlflow import MlflowClient

    from jupyter_mlplat.catalog.service import CatalogService
    from jupyter_mlplat.deploy.service import DeployService
    from jupyter_mlplat.pipelines.service import PipelinesService
    from jupyter_mlplat.reports.service import ReportsService

MAX_LIMIT = 100
#: Experiments per run search (MLflow takes a list; keep each request small).
EXPERIMENT_CHUNK = 50
#: Runs read to find the model versions of a metric/param query, and to check numeric params.
RUN_SCAN = 2000
RUN_PAGE = 100
#: Run ids per ``run_id IN (...)`` model version search.
RUN_ID_CHUNK = 100
#: Seconds between two syncs of the reports index from MLflow (each search would otherwise).
REPORTS_SYNC_SECONDS = 2.0
#: Groups of results, in order: the kinds, and pipeline runs (``kind:pipeline``) after pipelines.
GROUPS = (*KINDS[: KINDS.index("pipeline") + 1], "pipeline_run",
          *KINDS[KINDS.index("pipeline") + 1 :])  # fmt: skip
LABELS = {
    "model": "Models",
    "version": "Model versions",
    "run": "Runs",
    "report": "Reports",
    "pipeline": "Pipelines",
    "pipeline_run": "Pipeline runs",
    "deployment": "Deployments",
    "table": "Tables",
    "column": "Columns",
}
_OPS: dict[str, Callable[[float, float], bool]] = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
    "=": lambda a, b: a == b,
    "!=": lambda a, b: a != b,
}


@dataclass
class Result:
    """One hit: what it is, how the lab titles it, and where clicking it goes."""

    kind: str
    id: str
    title: str
    subtitle: str = ""
    target: dict[str, Any] = field(default_factory=dict)

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


class SearchService:
    """Search every kind the platform knows (every call blocks)."""

    def __init__(
        self,
        config: MLPlat,
        *,
        client: MlflowClient | None = None,
        catalog: CatalogService | None = None,
        reports: ReportsService | None = None,
        deploy: DeployService | None = None,
        pipelines: PipelinesService | None = None,
        index: SearchIndex | None = None,
    ) -> None:
        self.config = config
        self._registry = Registry(config, client)  # its lazily made MLflow client
        self.catalog = catalog
        self.reports = reports
        self.deploy = deploy
        self.pipelines = pipelines
        self._index = index
        self._ready = False
        self.syncer: IndexSync | None = None
        self.pipeline_runs: PipelineRunSync | None = None
        self._synced = 0.0
        self._sync_lock = threading.Lock()

    @property
    def client(self) -> MlflowClient:
        return self._registry.client

    @property
    def index(self) -> SearchIndex:
        """The search index of runs, models and versions (made from the config on first use)."""
        if self._index is None:
            self._index = index_for(self.config)
        return self._index

    def start_sync(self, logger: logging.Logger | None = None) -> IndexSync | None:
        """Keep the index in step with MLflow in the background (the server calls this once);
        None when no tracking server is configured or the sync is off."""
        interval = self.config.search_index_sync_seconds
        if self.syncer is not None or interval <= 0 or not self.config.tracking_uri:
            return self.syncer
        also: list[Callable[[], object]] = [self.reports.sync] if self.reports is not None else []
        if self.pipelines is not None and self.config.airflow_url:
            # Airflow's runs first: a few requests, where MLflow's first sync may take minutes
            self.pipeline_runs = PipelineRunSync(
                self.index,
                self.pipelines,
                reconcile_seconds=self.config.search_index_reconcile_seconds,
                logger=logger,
            )
            also.insert(0, self.pipeline_runs)
        self.syncer = IndexSync(
            self.index,
            lambda: self.client,
            reconcile_seconds=self.config.search_index_reconcile_seconds,
            also=also,
            logger=logger,
        )
        self.syncer.start(interval)
        return self.syncer

    def _indexed(self) -> bool:
        """Whether the index answers runs, models and versions (a first full sync is done)."""
        if not self._ready and self._index is not None:
            self._ready = self._index.ready
        return self._ready

    def close(self) -> None:
        if self.syncer is not None:
            self.syncer.stop()
            self.syncer = None
        if self._index is not None:
            self._index.close()
            self._index = None
            self._ready = False

    # -- the search ----------------------------------------------------------------------------

    def search(self, text: str, limit: int = 20, kinds: str = "") -> dict[str, Any]:
        """Results of ``text`` grouped by kind (at most ``limit`` per kind)."""
        if not 1 <= limit <= MAX_LIMIT:
            raise InvalidInput(f"limit must be between 1 and {MAX_LIMIT}, not {limit}")
        wanted = parse_kinds(kinds) if kinds.strip() else None
        started = time.perf_counter()
        plan = compile_query(text, wanted)
        found: dict[str, dict[str, Result]] = {kind: {} for kind in GROUPS}
        notes: dict[str, str] = {}
        experiments: dict[str, str] | None = None
        for clause in plan.clauses:
            for kind in [k for k in KINDS if k in clause.kinds]:
                if kind in notes or len(found[kind]) >= limit:
                    continue
                try:
                    if kind in MLFLOW_KINDS and experiments is None:
                        experiments = {} if self._indexed() else self._experiments()
                    hits = self._search_kind(kind, clause, limit, experiments or {})
                except Unavailable as err:
                    notes[kind] = str(err)
                    continue
                for hit in hits:  # kind:pipeline finds pipeline runs too
                    if len(found[hit.kind]) < limit:
                        found[hit.kind].setdefault(hit.id, hit)
        groups = [
            {"kind": kind, "label": LABELS[kind], "results": [r.to_json() for r in hits.values()]}
            for kind, hits in found.items()
            if hits
        ]
        return {
            "query": plan.query.text,
            "groups": groups,
            "total": sum(len(g["results"]) for g in groups),
            "notes": [f"{LABELS[k]}: {message}" for k, message in notes.items()],
            "took_ms": round((time.perf_counter() - started) * 1000, 1),
        }

    def _search_kind(
        self, kind: str, clause: ClausePlan, limit: int, experiments: dict[str, str]
    ) -> list[Result]:
        if kind in ("run", "version", "model"):
            mlflow_kind = {"run": self._runs, "version": self._versions, "model": self._models}
            return mlflow_kind[kind](clause, limit, experiments)
        if kind in ("table", "column"):
            return self._tables(kind, clause, limit)
        local = {"report": self._reports, "pipeline": self._pipelines,
                 "deployment": self._deployments}  # fmt: skip
        return local[kind](clause, limit)

    # -- MLflow -------------------------------------------------------------------------------

    def _experiments(self) -> dict[str, str]:
        """Every experiment the caller can see: id -> name."""
        found: dict[str, str] = {}
        token = None
        while True:
            page = _call(self.client.search_experiments, max_results=1000, page_token=token)
            found.update((e.experiment_id, e.name) for e in page)
            token = page.token
            if not token:
                return found

    def _run_pages(
        self, clause: ClausePlan, experiments: dict[str, str], page_size: int, scan: int
    ) -> Iterator[list[Any]]:
        """Pages of runs matching the clause (best first for a metric term; numeric params
        checked here), reading at most ``scan`` runs per experiment chunk."""
        runs = clause.runs
        assert runs is not None
        ids = [
            i
            for i, name in experiments.items()
            if all(fragment in name.lower() for fragment in runs.experiments)
        ]
        # newest first: ordering by a metric makes MLflow's SQL sort every run (minutes at 100k)
        order = ["attributes.start_time DESC"]
        for start in range(0, len(ids), EXPERIMENT_CHUNK):
            token = None
            read = 0
            while read < scan:
                page = _call(
                    self.client.search_runs,
                    ids[start : start + EXPERIMENT_CHUNK],
                    filter_string=runs.filter,
                    max_results=min(page_size, scan - read),
                    order_by=order,
                    page_token=token,
                )
                read += len(page)
                yield [run for run in page if _params_hold(run, runs.numeric_params)]
                token = page.token
                if not token:
                    break

    def _run_hits(
        self, clause: ClausePlan, limit: int, experiments: dict[str, str]
    ) -> list[RunHit]:
        """Runs matching the clause, newest first: from the index, else from MLflow."""
        if self._indexed():
            shown = [(p, k) for p, _, k in _compared(clause)]
            return self.index.runs(_run_query(clause), limit, shown)
        scan = RUN_SCAN if clause.runs and clause.runs.numeric_params else limit
        found: list[Any] = []
        for page in self._run_pages(clause, experiments, max(limit, RUN_PAGE), scan):
            found += page
            if len(found) >= limit:
                break
        return [_run_hit(run, experiments) for run in found[:limit]]

    def _runs(self, clause: ClausePlan, limit: int, experiments: dict[str, str]) -> list[Result]:
        shown = _compared(clause)
        results = []
        for run in self._run_hits(clause, limit, experiments):
            values = []
            for prefix, _, key in shown:
                if prefix == "metric" and key in run.metrics:
                    values.append(f"{key} {_number(run.metrics[key])}")
                elif prefix == "param" and key in run.params:
                    values.append(f"{key}={run.params[key]}")
            subtitle = " · ".join([run.experiment, *values, run.status.lower()])
            results.append(
                Result(
                    "run",
                    run.id,
                    run.name or run.id[:8],
                    subtitle,
                    {
                        "panel": "mlflow",
                        "path": run_ui_path(run.experiment_id, run.id),
                        "experiment_id": run.experiment_id,
                        "run_id": run.id,
                    },
                )
            )
        return results

    def _version_hits(
        self, clause: ClausePlan, limit: int, experiments: dict[str, str]
    ) -> list[VersionHit]:
        """Versions: through the runs a metric/param term finds, else directly."""
        if not clause.versions_by_run:
            if self._indexed():
                return self.index.versions(clause.where.versions, limit)
            page = _call(
                self.client.search_model_versions,
                filter_string=clause.versions or None,
                max_results=limit,
                order_by=["creation_timestamp DESC"],
            )
            return [_version_hit(v, None, experiments) for v in page]
        cached = clause.cache.get("versions")
        if cached is not None:
            return list(cached)
        if self._indexed():
            metrics = [k for p, _, k in _compared(clause) if p == "metric"]
            # models group versions: read a few more
            found = self.index.versions_by_run(
                _run_query(clause), clause.where.versions, limit * 3, metrics
            )
            clause.cache["versions"] = found
            return found
        found = []
        # small pages first: with a version for one run in ten, two pages give twenty versions
        for page in self._run_pages(clause, experiments, RUN_ID_CHUNK, RUN_SCAN):
            if not page:
                continue
            runs = {run.info.run_id: run for run in page}
            condition = f"run_id IN ({', '.join(quoted(r) for r in runs)})"
            if clause.versions:
                condition += f" and {clause.versions}"
            versions = _call(
                self.client.search_model_versions, filter_string=condition, max_results=1000
            )
            rank = {run_id: i for i, run_id in enumerate(runs)}
            found += sorted(
                (_version_hit(v, runs[v.run_id], experiments) for v in versions),
                key=lambda hit: rank[hit.run.id if hit.run else ""],
            )
            if len(found) >= limit * 3:  # models group versions: read a few more
                break
        clause.cache["versions"] = found
        return found

    def _versions(
        self, clause: ClausePlan, limit: int, experiments: dict[str, str]
    ) -> list[Result]:
        shown = [k for p, _, k in _compared(clause) if p == "metric"]
        results = []
        for version in self._version_hits(clause, limit, experiments)[:limit]:
            run = version.run
            parts = [f"{m} {_number(run.metrics[m])}" for m in shown if run and m in run.metrics]
            if run is not None and run.name:
                parts.append(f"run {run.name}")
            if version.aliases:
                parts.append("@" + ", @".join(version.aliases))
            results.append(
                Result(
                    "version",
                    f"{version.name}/{version.version}",
                    f"{version.name} v{version.version}",
                    " · ".join(parts) or version.description,
                    {"panel": "models", "model": version.name, "version": str(version.version)},
                )
            )
        return results

    def _model_hits(
        self, clause: ClausePlan, limit: int, experiments: dict[str, str]
    ) -> list[ModelHit]:
        if self._indexed():
            return self.index.models(clause.where.models, limit)
        page = _call(
            self.client.search_registered_models,
            filter_string=clause.models or None,
            max_results=limit,
            order_by=["last_updated_timestamp DESC"],
        )
        return [
            ModelHit(
                m.name,
                m.description or "",
                max((int(v.version) for v in m.latest_versions or []), default=0),
            )
            for m in page
        ]

    def _models(self, clause: ClausePlan, limit: int, experiments: dict[str, str]) -> list[Result]:
        if clause.versions_by_run:
            counts: dict[str, int] = {}
            for version in self._version_hits(clause, limit, experiments):
                counts[version.name] = counts.get(version.name, 0) + 1
            return [
                Result(
                    "model",
                    name,
                    name,
                    f"{n} matching version{'s' * (n > 1)}",
                    {"panel": "models", "model": name},
                )
                for name, n in list(counts.items())[:limit]
            ]
        results = []
        for model in self._model_hits(clause, limit, experiments):
            subtitle = model.description.splitlines()[0] if model.description else ""
            subtitle = subtitle or (f"latest v{model.latest}" if model.latest else "no versions")
            results.append(
                Result(
                    "model",
                    model.name,
                    model.name,
                    subtitle,
                    {"panel": "models", "model": model.name},
                )
            )
        return results

    # -- local indexes ------------------------------------------------------------------------

    def _reports(self, clause: ClausePlan, limit: int) -> list[Result]:
        if self.reports is None or clause.reports is None:
            return []
        if self.syncer is None:  # else the background sync keeps the reports index too
            with self._sync_lock:
                if time.monotonic() - self._synced > REPORTS_SYNC_SECONDS:
                    self.reports.sync()
                    self._synced = time.monotonic()
        results = []
        for report in self.reports.index.search(clause.reports, limit):
            metrics = [f"{k} {_number(v)}" for k, v in list(report.metrics.items())[:3]]
            results.append(
                Result(
                    "report",
                    report.id,
                    f"{report.model} v{report.version} on {report.table}",
                    " · ".join([report.created[:16].replace("T", " "), *metrics]),
                    {
                        "panel": "report",
                        "report": report.id,
                        "model": report.model,
                        "version": report.version,
                        "path": f"mlplat/api/reports/{report.id}/html",
                    },
                )
            )
        return results

    def _tables(self, kind: str, clause: ClausePlan, limit: int) -> list[Result]:
        if self.catalog is None:
            return []
        fields = clause.fields
        table = fields.get("table", "")
        terms = [*clause.words, *(fields[f] for f in ("name", "column") if f in fields)]
        if table and "." in table:
            database, _, name = table.partition(".")
            entry = self.catalog.index.table(database, name)
            entries = [entry] if entry is not None else []
        elif table or terms:
            entries = [
                hit.table
                for hit in self.catalog.search(
                    " ".join([table, *terms]).strip(), limit if kind == "table" else 50
                )
            ]
            entries = [self.catalog.index.table(e.database, e.name) or e for e in entries]
        else:  # e.g. kind:table alone
            return []
        results: list[Result] = []
        for entry in entries:
            if "name" in fields and fields["name"] not in entry.name.lower():
                continue
            if kind == "table":
                results.append(_table_result(entry, clause.words))
                continue
            for column in entry.columns:
                text = f"{column.name}\n{column.comment}".lower()
                if "column" in fields and fields["column"] not in column.name.lower():
                    continue
                if all(w in text for w in clause.words) and (clause.words or "column" in fields):
                    results.append(
                        Result(
                            "column",
                            f"{entry.qualified_name}.{column.name}",
                            column.name,
                            " · ".join(
                                p for p in (entry.qualified_name, column.type, column.comment) if p
                            ),
                            {
                                "panel": "catalog",
                                "table": entry.qualified_name,
                                "column": column.name,
                            },
                        )
                    )
        return results[:limit]

    def _pipelines(self, clause: ClausePlan, limit: int) -> list[Result]:
        from jupyter_mlplat.pipelines.project import list_files

        known: dict[str, dict[str, Any]] = {
            path.stem: {"dag_id": path.stem, "file": path.name, "tags": [], "last_run": None}
            for path in list_files(self.config)
        }
        if self.pipelines is not None and self.config.airflow_url:
            try:
                for pipeline in self.pipelines.pipelines()["pipelines"]:
                    known[pipeline["dag_id"]] = pipeline
            except MLPlatError:
                pass  # Airflow down: the DAG files still name the pipelines
        fields = clause.fields
        results = []
        for dag_id, pipeline in sorted(known.items()):
            last = pipeline.get("last_run") or {}
            state = str(last.get("state") or "")
            text = " ".join([dag_id, pipeline.get("file", ""), *pipeline.get("tags", [])]).lower()
            if not all(w in text for w in clause.words):
                continue
            if any(fields[f] not in dag_id.lower() for f in ("name", "pipeline") if f in fields):
                continue
            if "status" in fields and fields["status"].lower() != state.lower():
                continue
            subtitle = " · ".join(
                p
                for p in (
                    pipeline.get("schedule") or "",
                    f"last run {state}" if state else "no run yet",
                )
                if p
            )
            results.append(
                Result("pipeline", dag_id, dag_id, subtitle, {"panel": "pipelines", "name": dag_id})
            )
        return results[:limit] + self._pipeline_runs(clause, limit)

    def _pipeline_runs(self, clause: ClausePlan, limit: int) -> list[Result]:
        """Airflow's runs as the search index holds them (once its sync has read Airflow)."""
        index = self._index
        if index is None or (self.pipeline_runs is None and not index.has_pipeline_runs):
            return []
        fields = clause.fields
        dag = " ".join(fields[f] for f in ("name", "pipeline") if f in fields)
        hits = index.pipeline_runs(clause.words, dag, fields.get("status", ""), limit)
        return [_pipeline_run_result(hit) for hit in hits]

    def _deployments(self, clause: ClausePlan, limit: int) -> list[Result]:
        if self.deploy is None:
            return []
        fields = clause.fields
        results = []
        for record in self.deploy.records():
            models = [r.model for r in (record.stable, record.canary) if r is not None]
            text = " ".join([record.name, record.target, *(m.name for m in models)]).lower()
            if not all(w in text for w in clause.words):
                continue
            if "name" in fields and fields["name"] not in record.name.lower():
                continue
            if "model" in fields and fields["model"] not in {m.name.lower() for m in models}:
                continue
            if "status" in fields and fields["status"].lower() != record.state:
                continue
            stable = record.stable.model
            subtitle = f"{stable.name} v{stable.version} · {record.target} · {record.state}"
            results.append(
                Result(
                    "deployment",
                    record.name,
                    record.name,
                    subtitle,
                    {
                        "panel": "models",
                        "model": stable.name,
                        "version": stable.version,
                        "deployment": record.name,
                    },
                )
            )
        return results[:limit]


def _pipeline_run_result(hit: PipelineRunHit) -> Result:
    """A pipeline run: its state, what started it, how long it took, what it logged."""
    run = hit.run
    if run.run_type == "asset_triggered":
        trigger = "on " + ", ".join(run.assets or ["an asset event"])
    elif run.run_type == "manual":
        trigger = "manual" + (f" by {run.user}" if run.user else "")
        trigger += f" ({run.triggered_by})" if run.triggered_by else ""
    else:
        trigger = run.run_type or run.triggered_by
    parts = [run.state, trigger]
    if run.start_ms:
        started = time.strftime("%Y-%m-%d %H:%M", time.gmtime(run.start_ms / 1000))
        took = f", {(run.end_ms - run.start_ms) / 1000:.0f} s" if run.end_ms else ""
        parts.append(f"{started} UTC{took}")
    if hit.mlflow_runs:
        parts.append(f"{len(hit.mlflow_runs)} MLflow run{'s' * (len(hit.mlflow_runs) > 1)}")
    parts += [f"{name} v{version}" for name, version in hit.versions]
    return Result(
        "pipeline_run",
        f"{run.dag_id}/{run.run_id}",
        f"{run.dag_id} · {run.run_id}",
        " · ".join(p for p in parts if p),
        {
            "panel": "pipelines",
            "name": run.dag_id,
            "run": run.run_id,
            "mlflow_runs": [
                {"run_id": i, "path": run_ui_path(e, i), "name": n} for i, e, n in hit.mlflow_runs
            ],
            "versions": [{"model": n, "version": str(v)} for n, v in hit.versions],
        },
    )


def _table_result(entry: Any, words: list[str]) -> Result:
    column = next(
        (
            c
            for c in entry.columns
            if words and all(w in f"{c.name}\n{c.comment}".lower() for w in words)
        ),
        None,
    )
    if column is not None:
        subtitle = f"column {column.name}" + (f": {column.comment}" if column.comment else "")
    else:
        subtitle = entry.comment or entry.type.lower()
    return Result(
        "table",
        entry.qualified_name,
        entry.qualified_name,
        subtitle,
        {"panel": "catalog", "table": entry.qualified_name},
    )


def _compared(clause: ClausePlan) -> list[tuple[str, str, str]]:
    """(metric|param, "", key) of the clause's comparisons: the values a result shows."""
    return [t.name.partition(".") for t in clause.terms if t.kind == "compare"]


def _run_query(clause: ClausePlan) -> RunQuery:
    return RunQuery(clause.where.runs, clause.runs.experiments if clause.runs else [])


def _run_hit(run: Any, experiments: dict[str, str]) -> RunHit:
    info = run.info
    return RunHit(
        info.run_id,
        info.experiment_id,
        experiments.get(info.experiment_id, info.experiment_id),
        info.run_name or "",
        info.status,
        dict(run.data.metrics),
        dict(run.data.params),
    )


def _version_hit(version: Any, run: Any, experiments: dict[str, str]) -> VersionHit:
    return VersionHit(
        version.name,
        int(version.version),
        version.description or "",
        list(getattr(version, "aliases", []) or []),
        _run_hit(run, experiments) if run is not None else None,
    )


def _params_hold(run: Any, checks: list[tuple[str, str, float]]) -> bool:
    for key, op, value in checks:
        try:
            if not _OPS[op](float(run.data.params.get(key, "")), value):
                return False
        except ValueError:
            return False
    return True


def _number(value: float) -> str:
    return f"{value:.4g}"


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    """Call the MLflow client: a filter it refuses is InvalidInput, anything else Unavailable."""
    return mlflow_call(function, *args, owner="search", **kwargs)
