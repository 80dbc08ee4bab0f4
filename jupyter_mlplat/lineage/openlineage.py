"""OpenLineage run events (spec 2-0-2) for one Spark action of an MLflow run.

Each captured action is a run of its own (``runId`` = the Spark operation id) whose parent facet
names the MLflow run; events are appended as JSON lines to a daily file and, when
``MLPlat.openlineage_url`` is set, POSTed there (Marquez' and DataHub's ``/api/v1/lineage``).
"""

from __future__ import annotations

import json
import logging
import threading
import time
import urllib.request
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyter_mlplat._version import __version__
from jupyter_mlplat.config import MLPlat

log = logging.getLogger(__name__)

PRODUCER = f"https://github.com/jupyter-mlplat/jupyter-mlplat/tree/{__version__}"
SCHEMA_URL = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACET = "https://openlineage.io/spec/facets/1-0-1/{}.json#/$defs/{}"
#: Seconds a POST to the OpenLineage endpoint may take (it runs on the capture's thread).
POST_TIMEOUT = 5.0


@dataclass(frozen=True)
class LineageDataset:
    """A table in an event: its name, digest and columns (``[(name, type)]``)."""

    name: str
    digest: str = ""
    columns: tuple[tuple[str, str], ...] = ()


@dataclass(frozen=True)
class ActionRun:
    """One Spark action inside an MLflow run."""

    operation_id: str
    mlflow_run_id: str
    experiment_id: str
    job: str
    started: float
    ended: float
    failed: bool = False
    inputs: tuple[LineageDataset, ...] = ()
    outputs: tuple[LineageDataset, ...] = ()
    extra: dict[str, str] = field(default_factory=dict)


def run_uuid(value: str) -> str:
    """An OpenLineage run id (a UUID) for a Spark operation id or an MLflow run id."""
    try:
        return str(uuid.UUID(value))
    except ValueError:
        return str(uuid.uuid5(uuid.NAMESPACE_URL, value))


def _time(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).isoformat().replace("+00:00", "Z")


def _dataset(namespace: str, item: LineageDataset) -> dict[str, Any]:
    facets: dict[str, Any] = {}
    if item.columns:
        facets["schema"] = {
            "_producer": PRODUCER,
            "_schemaURL": _FACET.format("SchemaDatasetFacet", "SchemaDatasetFacet"),
            "fields": [{"name": name, "type": kind} for name, kind in item.columns],
        }
    if item.digest:
        facets["version"] = {
            "_producer": PRODUCER,
            "_schemaURL": _FACET.format("DatasetVersionDatasetFacet", "DatasetVersionDatasetFacet"),
            "datasetVersion": item.digest,
        }
    return {"namespace": namespace, "name": item.name, "facets": facets}


def events(run: ActionRun, namespace: str) -> list[dict[str, Any]]:
    """The START and COMPLETE (or FAIL) events of ``run``."""
    parent = {
        "_producer": PRODUCER,
        "_schemaURL": _FACET.format("ParentRunFacet", "ParentRunFacet"),
        "run": {"runId": run_uuid(run.mlflow_run_id)},
        "job": {"namespace": "mlflow", "name": f"experiments/{run.experiment_id}"},
    }
    run_facets = {
        "parent": parent,
        "mlflow": {
            "_producer": PRODUCER,
            "_schemaURL": f"{PRODUCER}#MlflowRunFacet",
            "runId": run.mlflow_run_id,
            "experimentId": run.experiment_id,
            **run.extra,
        },
    }
    common = {
        "producer": PRODUCER,
        "schemaURL": SCHEMA_URL,
        "run": {"runId": run_uuid(run.operation_id), "facets": run_facets},
        "job": {"namespace": namespace, "name": run.job},
        "inputs": [_dataset(namespace, item) for item in run.inputs],
        "outputs": [_dataset(namespace, item) for item in run.outputs],
    }
    end = "FAIL" if run.failed else "COMPLETE"
    return [
        {"eventType": "START", "eventTime": _time(run.started), **common},
        {"eventType": end, "eventTime": _time(run.ended), **common},
    ]


#: Hands a batch of events to whoever keeps them (a kernel: the Jupyter server, see
#: ``server/lineage_handlers.py``), instead of this process writing them itself.
Send = Callable[[list[dict[str, Any]]], None]


class EventSink:
    """Appends events to ``<dir>/openlineage-<date>.jsonl`` and POSTs them to the endpoint;
    or, given ``send``, hands them on (a kernel knows neither the folder nor the endpoint)."""

    def __init__(self, config: MLPlat, send: Send | None = None) -> None:
        self.folder = config.resolved_lineage_dir
        self.url = config.openlineage_url
        self.namespace = config.openlineage_namespace
        self.send = send
        self._lock = threading.Lock()

    def path(self, when: float) -> Path:
        return self.folder / f"openlineage-{datetime.fromtimestamp(when, UTC):%Y-%m-%d}.jsonl"

    def emit(self, run: ActionRun) -> None:
        """Write (and send) the events of ``run``; raises on failure (the caller warns once)."""
        batch = events(run, self.namespace)
        if self.send is not None:
            self.send(batch)
        else:
            self.keep(batch)

    def keep(self, batch: list[dict[str, Any]]) -> None:
        """Append ``batch`` to today's file and POST it to the endpoint when one is set."""
        lines = "".join(json.dumps(event, separators=(",", ":")) + "\n" for event in batch)
        when = time.time()
        with self._lock:
            path = self.path(when)
            path.parent.mkdir(parents=True, exist_ok=True)
            with path.open("a", encoding="utf-8") as out:
                out.write(lines)
        if self.url:
            for event in batch:
                self.post(event)

    def post(self, event: dict[str, Any]) -> None:
        request = urllib.request.Request(  # noqa: S310 (the configured endpoint, http or https)
            self.url,
            data=json.dumps(event).encode(),
            headers={"Content-Type": "application/json"},
            method="POST",
        )
        with urllib.request.urlopen(request, timeout=POST_TIMEOUT) as response:  # noqa: S310
            response.read()
