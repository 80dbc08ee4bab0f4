"""Lineage questions, answered from MLflow's records (``lineage.record``), the deployments and the
pipelines: who used a table, what a model version was trained on, which deployments a change of
a table leaves stale.

The server wires in what lives above or beside this service: the table's current snapshot (the
catalog), the caller's deployments (the deploy service) and the pipelines whose feature config
trains on a table (the pipelines project).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from jupyter_mlplat.catalog.service import identifier
from jupyter_mlplat.catalog.snapshot import Snapshot
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.models import Deployment
from jupyter_mlplat.errors import InvalidInput, NotFound, Unavailable
from jupyter_mlplat.lineage.record import INPUT_CONTEXT, OUTPUT_CONTEXT, recorded

#: Runs a table's "used by" lists at most (newest first).
MAX_RUNS = 500
#: Most OpenLineage events a kernel hands over at once (one Spark action makes two).
MAX_EVENTS = 100
EVENT_TYPES = {"START", "RUNNING", "COMPLETE", "ABORT", "FAIL", "OTHER"}
_MISSING = {"RESOURCE_DOES_NOT_EXIST", "NOT_FOUND"}

CurrentSnapshot = Callable[[str, str], Snapshot | None]
Deployments = Callable[[], list[Deployment]]
#: Names of the pipelines that (re)train on a table.
TrainingPipelines = Callable[[str], list[str]]


def table_name(value: str) -> tuple[str, str]:
    """``(database, table)`` of ``db.table`` (lower case); a one-line error otherwise."""
    parts = (value or "").split(".")
    if len(parts) != 2:
        raise InvalidInput(f"invalid table {value!r}: use <database>.<table>")
    database, table = (identifier(part, "table").lower() for part in parts)
    return database, table


class LineageService:
    """Used-by, trained-on and impact of tables and model versions."""

    def __init__(
        self,
        config: MLPlat,
        current: CurrentSnapshot,
        deployments: Deployments = list,
        pipelines: TrainingPipelines = lambda _table: [],
        client: Any = None,
    ) -> None:
        self.config = config
        self._current = current
        self._deployments = deployments
        self._pipelines = pipelines
        self._client = client
        self._sink: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from jupyter_mlplat.deploy.registry import client_for

            self._client = client_for(self.config)
        return self._client

    # -- OpenLineage events of kernels ------------------------------------------------------------
    def keep_events(self, batch: Any) -> None:
        """Keep a kernel's OpenLineage events (JSON lines here, POSTed to the endpoint when one
        is configured); a malformed batch is refused whole, nothing written."""
        from jupyter_mlplat.lineage.openlineage import EventSink

        if not isinstance(batch, list) or not 1 <= len(batch) <= MAX_EVENTS:
            raise InvalidInput(f"events must be a list of 1 to {MAX_EVENTS} OpenLineage events")
        for i, event in enumerate(batch):
            if not _is_run_event(event):
                raise InvalidInput(
                    f"events[{i}] is not an OpenLineage run event (eventType one of "
                    f"{', '.join(sorted(EVENT_TYPES))}, run.runId, job.namespace, job.name)"
                )
        if self._sink is None:
            self._sink = EventSink(self.config)
        try:
            self._sink.keep(batch)
        except OSError as err:
            raise Unavailable(f"the OpenLineage events could not be kept: {err}") from None

    # -- a table ------------------------------------------------------------------------------
    def table(self, name: str) -> dict[str, Any]:
        """Who used ``db.table``: runs, model versions, deployments, pipelines; and the impact
        of its current digest on the deployed models."""
        database, table = table_name(name)
        full = f"{database}.{table}"
        current = self.current_digest(database, table)
        runs = self._runs_using(full)
        trained = {r["run_id"]: r["digest"] for r in runs if r["context"] == INPUT_CONTEXT}
        versions = self._versions_of(trained)
        deployed = self._deployed(versions)
        pipelines = [{"name": n} for n in self._pipelines(full)]
        impact = [
            {
                "deployment": d["name"],
                "model": d["model"],
                "version": d["version"],
                "trained_digest": d["digest"],
                "current_digest": current,
                "stale": bool(current and d["digest"] and d["digest"] != current),
                "pipeline": pipelines[0]["name"] if pipelines else None,
            }
            for d in deployed
        ]
        return {
            "table": full,
            "digest": current,
            "used_by": {
                "runs": runs,
                "versions": versions,
                "deployments": [
                    {k: d[k] for k in ("name", "model", "version", "endpoint")} for d in deployed
                ],
                "pipelines": pipelines,
            },
            "impact": impact,
        }

    def current_digest(self, database: str, table: str) -> str | None:
        """The table's digest now (None when the catalog cannot tell, e.g. Spark is down)."""
        try:
            snap = self._current(database, table)
        except Unavailable:
            return None
        return snap.digest if snap is not None else None

    def _runs_using(self, table: str) -> list[dict[str, Any]]:
        experiments = self._mlflow(self.client.search_experiments, max_results=1000)
        ids = [e.experiment_id for e in experiments]
        if not ids:
            return []
        found = self._mlflow(
            self.client.search_runs,
            ids,
            filter_string=f"datasets.name = '{table}'",
            max_results=MAX_RUNS,
            order_by=["attributes.start_time DESC"],
        )
        runs = []
        for run in found:
            seen = set()
            for item in recorded(run):
                if item.table != table or (item.context, item.digest) in seen:
                    continue
                seen.add((item.context, item.digest))
                runs.append(
                    {
                        "run_id": run.info.run_id,
                        "experiment_id": run.info.experiment_id,
                        "name": run.info.run_name or "",
                        "context": item.context,
                        "digest": item.digest,
                    }
                )
        return runs

    def _versions_of(self, trained: dict[str, str]) -> list[dict[str, Any]]:
        if not trained:
            return []
        ids = ", ".join(f"'{run_id}'" for run_id in trained)
        found = self._mlflow(self.client.search_model_versions, f"run_id IN ({ids})")
        versions = [
            {
                "model": v.name,
                "version": str(v.version),
                "run_id": v.run_id,
                "digest": trained.get(v.run_id, ""),
            }
            for v in found
        ]
        return sorted(versions, key=lambda v: (v["model"], -int(v["version"])))

    def _deployed(self, versions: list[dict[str, Any]]) -> list[dict[str, Any]]:
        by_version = {(v["model"], v["version"]): v for v in versions}
        if not by_version:
            return []
        found = []
        for deployment in self._deployments():
            for revision in (deployment.stable, deployment.canary):
                model = getattr(revision, "model", None)
                version = by_version.get((model.name, str(model.version))) if model else None
                if version is None:
                    continue
                found.append(
                    {
                        "name": deployment.name,
                        "model": version["model"],
                        "version": version["version"],
                        "endpoint": deployment.endpoint,
                        "digest": version["digest"],
                    }
                )
        return found

    # -- a model version ----------------------------------------------------------------------
    def version(self, model: str, version: str) -> dict[str, Any]:
        """What ``model`` ``version`` was trained on (tables, digests then and now) and what its
        run wrote."""
        if not model or not version.isdigit():
            raise InvalidInput(f"invalid model version {model!r} {version!r}")
        found = self._mlflow(
            self.client.get_model_version, model, version, missing=f"version {version} of {model!r}"
        )
        trained_on: list[dict[str, Any]] = []
        outputs: list[dict[str, Any]] = []
        currents: dict[str, str | None] = {}
        if found.run_id:
            run = self._mlflow(self.client.get_run, found.run_id, missing="run of this version")
            for item in recorded(run):
                entry: dict[str, Any] = {
                    "table": item.table,
                    "digest": item.digest,
                    "schema": item.schema,
                }
                if item.context == OUTPUT_CONTEXT:
                    outputs.append(entry)
                elif item.context == INPUT_CONTEXT:
                    trained_on.append(entry)
        for entry in trained_on:
            table = str(entry["table"])
            if table not in currents:
                currents[table] = self._digest_or_none(table)
            entry["current_digest"] = currents[table]
            entry["stale"] = bool(currents[table] and currents[table] != entry["digest"])
        return {
            "model": model,
            "version": version,
            "run_id": found.run_id or "",
            "trained_on": trained_on,
            "outputs": outputs,
        }

    def _digest_or_none(self, table: str) -> str | None:
        try:
            return self.current_digest(*table_name(table))
        except (InvalidInput, NotFound):
            return None  # dropped since (or a name the catalog does not list)

    @staticmethod
    def _mlflow(function: Any, *args: Any, missing: str = "", **kwargs: Any) -> Any:
        from mlflow.exceptions import MlflowException

        try:
            return function(*args, **kwargs)
        except MlflowException as err:
            if missing and getattr(err, "error_code", "") in _MISSING:
                raise NotFound(f"MLflow has no {missing}") from None
            raise Unavailable(f"MLflow: {str(err.message).splitlines()[0]}") from None


def _is_run_event(event: Any) -> bool:
    """What the OpenLineage spec requires of a run event (facets are optional)."""
    if not isinstance(event, dict) or event.get("eventType") not in EVENT_TYPES:
        return False
    run, job = event.get("run"), event.get("job")
    return (
        isinstance(run, dict)
        and isinstance(run.get("runId"), str)
        and isinstance(job, dict)
        and all(isinstance(job.get(key), str) and job[key] for key in ("namespace", "name"))
    )
