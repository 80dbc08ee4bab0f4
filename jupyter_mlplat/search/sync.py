"""Keeps the search index (:mod:`search.index`) in step with MLflow, incrementally.

Each pass (every ``MLPlat.search_index_sync_seconds`` on the server, in a thread of its own;
queries never wait for it):

* experiments: all of them with their lifecycle (a deleted experiment hides its runs);
* runs started since the watermark (the newest start time read, less a minute for clocks and
  runs created late), pages of ``RUN_PAGE`` ordered by start time; then runs still RUNNING or
  ended in the last ``RECENT_MS`` read again by id (metrics, tags and status change after the
  start);
* registered models and model versions updated since their watermarks (MLflow orders them
  by ``last_updated_timestamp``; newest pages first, stopping at the watermark); a model that
  changed has its versions read again, so a deleted version disappears;
* every ``DELETIONS_SECONDS`` (or less often when that takes long): the deleted runs and every
  registered model (deleted models go; aliases), as deletions leave no date in MLflow;
* every ``MLPlat.search_index_reconcile_seconds``: every model version (tags set on versions
  change no timestamp).

The first pass is a full one (the same reads from the start, logged with progress); until it
finishes, :class:`SearchService` answers from MLflow's own search.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from jupyter_mlplat.deploy.registry import mlflow_call
from jupyter_mlplat.errors import MLPlatError
from jupyter_mlplat.search.index import (
    ModelDoc,
    PipelineRunDoc,
    RunDoc,
    SearchIndex,
    VersionDoc,
)
from jupyter_mlplat.search.language import quoted

if TYPE_CHECKING:
    from mlflow import MlflowClient

    from jupyter_mlplat.pipelines.service import PipelinesService

log = logging.getLogger(__name__)

#: Runs per page (MLflow's largest page is 50000; this keeps each response a few MB).
RUN_PAGE = 10_000
MODEL_PAGE = 1_000  # MLflow's largest for registered models
VERSION_PAGE = 10_000
#: Models and versions per page of an incremental read, newest first: mostly one page, small.
RECENT_PAGE = 100
EXPERIMENT_CHUNK = 50
#: Runs re-read by id per request.
ID_CHUNK = 100
#: Re-read runs started this long before the watermark (client clocks, late creates).
OVERLAP_MS = 60_000
#: Runs that ended this recently are read again (tags and metrics logged at the end).
RECENT_MS = 30_000
#: Runs still RUNNING are read again while they started this recently (older ones crashed).
RUNNING_MS = 2 * 86_400_000
PROGRESS_EVERY = 20_000
#: Deleted runs and deleted models are looked for at most this often.
DELETIONS_SECONDS = 10.0


@dataclass
class SyncReport:
    """What one pass did."""

    full: bool
    runs: int = 0
    refreshed: int = 0
    models: int = 0
    versions: int = 0
    deleted: int = 0
    reconciled: bool = False
    seconds: float = 0.0

    def __str__(self) -> str:
        what = "full sync" if self.full else "sync"
        return (
            f"{what}: {self.runs} runs, {self.refreshed} re-read, {self.models} models, "
            f"{self.versions} versions"
            + (f", {self.deleted} deletions" if self.deleted else "")
            + f" in {self.seconds:.1f} s"
        )


class IndexSync:
    """Brings the index up to date with MLflow (``run_once``), or keeps it so (``start``)."""

    def __init__(
        self,
        index: SearchIndex,
        client: Callable[[], MlflowClient],
        *,
        reconcile_seconds: float = 120.0,
        deletions_seconds: float = DELETIONS_SECONDS,
        also: Sequence[Callable[[], object]] = (),
        logger: logging.Logger | None = None,
    ) -> None:
        self.index = index
        self._client = client
        self.reconcile_seconds = reconcile_seconds
        self.deletions_seconds = deletions_seconds
        #: other syncs from MLflow run at each pass (the reports index), off the queries' path
        self.also = list(also)
        self.log = logger or log
        self.last: SyncReport | None = None
        self.last_error = ""
        self._deletions_at = 0.0
        self._deletions_took = 0.0
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def client(self) -> MlflowClient:
        return self._client()

    # -- the background loop ---------------------------------------------------------------------

    def start(self, interval: float) -> None:
        """Sync now and then every ``interval`` seconds, in a daemon thread."""
        if self._thread is not None:
            return
        self._thread = threading.Thread(
            target=self._loop, args=(interval,), name="mlplat-search-sync", daemon=True
        )
        self._thread.start()

    def wake(self) -> None:
        """Start the next pass now (e.g. a run was just logged)."""
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _loop(self, interval: float) -> None:
        while not self._stop.is_set():
            try:
                for sync in self.also:
                    sync()
                report = self.run_once()
                if report.full or report.deleted or report.runs > 1000:
                    self.log.info("jupyter_mlplat: search index %s", report)
                self.last_error = ""
            except MLPlatError as err:  # MLflow down: try again at the next pass
                if str(err) != self.last_error:
                    self.log.warning("jupyter_mlplat: search index sync failed: %s", err)
                self.last_error = str(err)
            except Exception as err:  # never let the thread die: the next pass may work
                self.log.exception("jupyter_mlplat: search index sync failed: %s", err)
                self.last_error = str(err)
            self._wake.wait(interval)
            self._wake.clear()

    # -- one pass --------------------------------------------------------------------------------

    def run_once(self) -> SyncReport:
        """One pass (a full one until the index has finished a first)."""
        with self._lock:
            started = time.monotonic()
            index = self.index
            full = not index.ready
            report = SyncReport(full=full)
            if full:
                self.log.info("jupyter_mlplat: search index: full sync from MLflow started")
            now = int(time.time() * 1000)
            experiments = self._experiments()
            index.replace_experiments(experiments)
            active = [i for i, _, deleted in experiments if not deleted]

            newest = self._sync_runs(report, active, now, started)
            # deletions leave no date in MLflow: read the deleted runs and every model often,
            # but spend at most a twentieth of the time on it
            deletions = (
                full
                or self.deletions_seconds <= 0  # every pass
                or time.monotonic() - self._deletions_at
                >= max(self.deletions_seconds, 20 * self._deletions_took)
            )
            reconcile = full or (
                time.time() - float(index.state("reconciled_at", "0") or 0)
                >= self.reconcile_seconds
            )
            state = self._sync_registry(report, deletions or reconcile, reconcile)
            state["runs_since"] = str(newest)
            if deletions:
                began = time.monotonic()
                report.deleted = index.set_deleted_runs(self._deleted_runs(active))
                self._deletions_at, self._deletions_took = began, time.monotonic() - began
            if reconcile:
                report.reconciled = True
                state["reconciled_at"] = str(time.time())
            if full:
                state["complete"] = "1"
            index.set_state(state)
            report.seconds = time.monotonic() - started
            self.last = report
            return report

    def _sync_runs(self, report: SyncReport, active: list[str], now: int, started: float) -> int:
        """New runs, then the ones still changing; returns the new runs watermark."""
        index, full = self.index, report.full
        since = 0 if full else int(index.state("runs_since", "0") or 0)
        newest, read = since, set[str]()
        for page in self._runs(active, since - OVERLAP_MS if since else 0):
            docs = [_run_doc(run) for run in page]
            index.upsert_runs(docs, only_changed=not full)  # the overlap: mostly unchanged
            read.update(d.id for d in docs)
            newest = max([newest, *(d.start_ms for d in docs)])
            before = report.runs
            report.runs += len(docs)
            if full and report.runs // PROGRESS_EVERY > before // PROGRESS_EVERY:
                self.log.info(
                    "jupyter_mlplat: search index: %d runs read (%.0f s)",
                    report.runs,
                    time.monotonic() - started,
                )
        if not full:
            again = [
                (r, e)
                for r, e in index.refreshable_runs(now - RECENT_MS, now - RUNNING_MS)
                if r not in read
            ]
            report.refreshed = self._reread(again)
        return newest

    def _sync_registry(
        self, report: SyncReport, all_models: bool, all_versions: bool
    ) -> dict[str, str]:
        """Models and versions changed since the watermarks; every model (``all_models``: the
        deleted ones go) and every version (``all_versions``: their tags and aliases)."""
        index = self.index
        models_since = 0 if report.full else int(index.state("models_since", "0") or 0)
        versions_since = 0 if all_versions else int(index.state("versions_since", "0") or 0)
        models = self._models(0 if all_models or not models_since else models_since - OVERLAP_MS)
        versions = self._versions(versions_since - OVERLAP_MS if versions_since else 0)
        changed: list[str] = []
        if not all_versions:  # what the overlap read again unchanged is left alone
            known = index.updated("models") if models else {}
            changed = [m.name for m in models if known.get(m.name) != m.updated_ms]
            if not all_models:
                models = [m for m in models if m.name in set(changed)]
            known_versions = index.updated("versions") if versions else {}
            versions = [
                v for v in versions if known_versions.get((v.name, v.version)) != v.updated_ms
            ]
        if changed:  # their versions again: a deleted version leaves no other trace
            versions += self._versions_of(changed)
        versions = list({(v.name, v.version): v for v in versions}.values())
        # versions first: a query seeing a new model then sees its versions too
        index.upsert_versions(versions, of_models=changed, every=all_versions)
        index.upsert_models(models, replace_all=all_models)
        report.models, report.versions = len(models), len(versions)
        return {
            "models_since": str(max([models_since, *(m.updated_ms for m in models)])),
            "versions_since": str(max([versions_since, *(v.updated_ms for v in versions)])),
        }

    # -- MLflow reads ----------------------------------------------------------------------------

    def _experiments(self) -> list[tuple[str, str, bool]]:
        from mlflow.entities import ViewType

        found: list[tuple[str, str, bool]] = []
        token = None
        while True:
            page = _call(
                self.client.search_experiments,
                view_type=ViewType.ALL,
                max_results=1000,
                page_token=token,
            )
            found += [(e.experiment_id, e.name, e.lifecycle_stage == "deleted") for e in page]
            token = page.token
            if not token:
                return found

    def _runs(self, experiments: list[str], since_ms: int) -> Iterator[list[Any]]:
        """Pages of runs started at or after ``since_ms``, oldest first."""
        yield from self._run_pages(
            experiments,
            filter_string=f"attributes.start_time >= {int(since_ms)}" if since_ms else "",
            max_results=RUN_PAGE,
            order_by=["attributes.start_time ASC"],
        )

    def _run_pages(self, experiments: list[str], **search: Any) -> Iterator[list[Any]]:
        """Every page of a run search, experiment chunk by chunk."""
        for start in range(0, len(experiments), EXPERIMENT_CHUNK):
            token = None
            while True:
                page = _call(
                    self.client.search_runs,
                    experiments[start : start + EXPERIMENT_CHUNK],
                    page_token=token,
                    **search,
                )
                if page:
                    yield list(page)
                token = page.token
                if not token:
                    break

    def _reread(self, runs: list[tuple[str, str]]) -> int:
        """Read these (run id, experiment id) again; returns how many were."""
        count = 0
        for start in range(0, len(runs), ID_CHUNK):
            chunk = runs[start : start + ID_CHUNK]
            page = _call(
                self.client.search_runs,
                sorted({e for _, e in chunk}),
                filter_string=f"attributes.run_id IN ({', '.join(quoted(r) for r, _ in chunk)})",
                max_results=len(chunk),
            )
            self.index.upsert_runs([_run_doc(run) for run in page], only_changed=True)
            count += len(page)
        return count

    def _deleted_runs(self, experiments: list[str]) -> set[str]:
        from mlflow.entities import ViewType

        pages = self._run_pages(
            experiments, run_view_type=ViewType.DELETED_ONLY, max_results=50_000
        )
        return {run.info.run_id for page in pages for run in page}

    def _models(self, since_ms: int) -> list[ModelDoc]:
        """Registered models updated at or after ``since_ms`` (all when 0)."""
        return self._newest(self.client.search_registered_models, _model_doc, since_ms, MODEL_PAGE)

    def _versions(self, since_ms: int) -> list[VersionDoc]:
        """Model versions updated at or after ``since_ms`` (all when 0)."""
        return self._newest(self.client.search_model_versions, _version_doc, since_ms, VERSION_PAGE)

    @staticmethod
    def _newest(search: Any, doc: Callable[[Any], Any], since_ms: int, page_size: int) -> Any:
        """What ``search`` lists updated at or after ``since_ms``, newest first: small pages
        when only the latest are wanted, stopping at the first older one."""
        found: list[Any] = []
        token = None
        while True:
            page = _call(
                search,
                max_results=RECENT_PAGE if since_ms else page_size,
                order_by=["last_updated_timestamp DESC"],
                page_token=token,
            )
            for item in page:
                entry = doc(item)
                if entry.updated_ms < since_ms:
                    return found
                found.append(entry)
            token = page.token
            if not token:
                return found

    def _versions_of(self, names: list[str]) -> list[VersionDoc]:
        found = []
        for name in names:
            page = _call(
                self.client.search_model_versions,
                filter_string=f"name = {quoted(name)}",
                max_results=VERSION_PAGE,
            )
            found += [_version_doc(v) for v in page]
        return found


def _run_doc(run: Any) -> RunDoc:
    info, data = run.info, run.data
    inputs = getattr(run, "inputs", None)
    datasets = [d.dataset.name for d in (getattr(inputs, "dataset_inputs", None) or [])]
    return RunDoc(
        id=info.run_id,
        experiment_id=str(info.experiment_id),
        name=info.run_name or "",
        status=info.status,
        start_ms=int(info.start_time or 0),
        end_ms=int(info.end_time) if info.end_time else None,
        deleted=info.lifecycle_stage == "deleted",
        metrics=dict(data.metrics),
        params=dict(data.params),
        tags=dict(data.tags),
        datasets=datasets,
    )


def _model_doc(model: Any) -> ModelDoc:
    return ModelDoc(
        name=model.name,
        description=model.description or "",
        updated_ms=int(model.last_updated_timestamp or 0),
        latest=max((int(v.version) for v in model.latest_versions or []), default=0),
        tags=dict(model.tags or {}),
        aliases={a: int(v) for a, v in (getattr(model, "aliases", None) or {}).items()},
    )


def _version_doc(version: Any) -> VersionDoc:
    return VersionDoc(
        name=version.name,
        version=int(version.version),
        run_id=version.run_id or "",
        description=version.description or "",
        created_ms=int(version.creation_timestamp or 0),
        updated_ms=int(version.last_updated_timestamp or 0),
        tags=dict(version.tags or {}),
    )


def _call(function: Any, *args: Any, **kwargs: Any) -> Any:
    return mlflow_call(function, *args, owner="search index", **kwargs)


class PipelineRunSync:
    """Keeps the index's pipeline runs in step with Airflow, as :class:`IndexSync` does runs
    with MLflow: each pass reads the runs Airflow changed since the watermark (the time the
    last pass began, less ``OVERLAP_MS`` for clocks), the asset events that started a new
    asset-triggered run, and every ``reconcile_seconds`` all runs (deleted ones go).

    Airflow is optional and often not running: a pass that cannot reach it logs once and
    leaves the index as it was (the MLflow sync goes on)."""

    def __init__(
        self,
        index: SearchIndex,
        pipelines: PipelinesService,
        *,
        reconcile_seconds: float = 120.0,
        logger: logging.Logger | None = None,
    ) -> None:
        self.index = index
        self.pipelines = pipelines
        self.reconcile_seconds = reconcile_seconds
        self.log = logger or log
        self.last_error = ""

    def __call__(self) -> None:
        """One pass, its failures logged (once until it works again), never raised."""
        try:
            self.run_once()
            self.last_error = ""
        except MLPlatError as err:
            if str(err) != self.last_error:
                self.log.warning("jupyter_mlplat: search index: pipeline runs not read: %s", err)
            self.last_error = str(err)

    def run_once(self) -> int:
        """Read Airflow's changed runs into the index; how many were new or changed."""
        index = self.index
        began = time.time()
        since = int(index.state("pipeline_runs_since", "0") or 0)
        reconciled = float(index.state("pipeline_runs_reconciled_at", "0") or 0)
        every = not since or began - reconciled >= self.reconcile_seconds
        from_ms = 0 if every else since - OVERLAP_MS
        known = index.pipeline_run_docs()
        docs: list[PipelineRunDoc] = []
        for page in self.pipelines.runs_updated(_iso(from_ms) if from_ms else ""):
            docs += [self._doc(run, known) for run in page]
        changed = index.upsert_pipeline_runs(docs, replace_all=every)
        state = {"pipeline_runs_since": str(int(began * 1000))}
        if every:
            state["pipeline_runs_reconciled_at"] = str(began)
        index.set_state(state)
        return changed

    def _doc(
        self, run: dict[str, Any], known: dict[tuple[str, str], PipelineRunDoc]
    ) -> PipelineRunDoc:
        doc = PipelineRunDoc(
            dag_id=run["dag_id"],
            run_id=run["run_id"],
            state=str(run["state"]),
            run_type=str(run["run_type"]),
            triggered_by=str(run["triggered_by"]),
            user=str(run["user"]),
            start_ms=_ms(run["start"]) or 0,
            end_ms=_ms(run["end"]),
        )
        if doc.run_type == "asset_triggered":  # the events never change: read them once
            before = known.get((doc.dag_id, doc.run_id))
            doc.assets = (
                before.assets
                if before is not None and before.assets
                else self.pipelines.asset_events(doc.dag_id, doc.run_id)
            )
        return doc


def _iso(ms: int) -> str:
    return datetime.fromtimestamp(ms / 1000, tz=UTC).isoformat()


def _ms(value: str | None) -> int | None:
    """Milliseconds since the epoch of one of Airflow's ISO times (None stays None)."""
    if not value:
        return None
    return int(datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() * 1000)
