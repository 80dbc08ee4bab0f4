"""The reports as the REST surface sees them: search (index synced from MLflow), read, render."""

from __future__ import annotations

import re
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, NotFound, Unavailable
from jupyter_mlplat.quality.record import KIND_TAG
from jupyter_mlplat.reports import record
from jupyter_mlplat.reports.index import ReportIndex, index_for
from jupyter_mlplat.reports.query import parse

if TYPE_CHECKING:
    from mlflow import MlflowClient

RUN_ID = re.compile(r"^[0-9a-f]{32}$")
#: Experiments per run search (MLflow takes a list; keep each request small).
EXPERIMENT_CHUNK = 50


def check_report_id(report_id: str) -> str:
    if not RUN_ID.match(report_id or ""):
        raise InvalidInput(f"invalid report id {report_id!r}: a report id is a 32-hex run id")
    return report_id


class ReportsService:
    """Search, read and render the reports kept in MLflow (every call blocks)."""

    def __init__(
        self,
        config: MLPlat,
        client: MlflowClient | None = None,
        index: ReportIndex | None = None,
    ) -> None:
        self.config = config
        self._client = client
        self._index = index
        self._sync_lock = threading.Lock()

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from jupyter_mlplat.deploy.registry import client_for

            self._client = client_for(self.config)
        return self._client

    @property
    def index(self) -> ReportIndex:
        if self._index is None:
            self._index = index_for(self.config)
        return self._index

    # -- the index ------------------------------------------------------------------------------

    def sync(self) -> int:
        """Bring the index up to date with MLflow: report runs started since the cursor.

        The cursor stays at the oldest report still running, so a report that finishes after a
        sync is picked up by a later one; re-reading a finished report is harmless (upsert).
        """
        with self._sync_lock:
            cursor = self.index.cursor()
            written, pending, newest = 0, [], cursor
            summaries = []
            for run in self._report_runs(cursor):
                start = int(run.info.start_time or 0)
                newest = max(newest, start)
                if run.info.status == "RUNNING":
                    pending.append(start)
                elif run.info.status == "FINISHED":
                    summary = record.summary_of_run(run)
                    if summary is not None:
                        summaries.append(summary)
            if summaries:
                written = self.index.upsert(summaries)
            next_cursor = min(pending) if pending else newest
            if next_cursor != cursor:
                self.index.set_cursor(next_cursor)
            return written

    def _report_runs(self, since_ms: int) -> Iterator[Any]:
        experiments = self._experiment_ids()
        query = f"tags.`{KIND_TAG}` = '{record.KIND}' and attributes.start_time >= {int(since_ms)}"
        for start in range(0, len(experiments), EXPERIMENT_CHUNK):
            token = None
            while True:
                page = self._call(
                    self.client.search_runs,
                    experiments[start : start + EXPERIMENT_CHUNK],
                    filter_string=query,
                    max_results=1000,
                    order_by=["attributes.start_time ASC"],
                    page_token=token,
                )
                yield from page
                token = page.token
                if not token:
                    break

    def _experiment_ids(self) -> list[str]:
        ids: list[str] = []
        token = None
        while True:
            page = self._call(self.client.search_experiments, max_results=1000, page_token=token)
            ids += [e.experiment_id for e in page]
            token = page.token
            if not token:
                return ids

    def search(self, text: str = "", limit: int = 50) -> dict[str, Any]:
        """Reports matching the query language of :mod:`reports.query`, newest first."""
        query = parse(text)
        self.sync()
        hits = self.index.search(query, limit)
        return {"query": (text or "").strip(), "reports": [hit.to_json() for hit in hits]}

    # -- one report -----------------------------------------------------------------------------

    def report(self, report_id: str) -> dict[str, Any]:
        """The report's ``report.json``."""
        import json

        return dict(json.loads(self._artifact(report_id, record.JSON_ARTIFACT)))

    def html(self, report_id: str) -> str:
        """The report's self-contained ``report.html``."""
        return self._artifact(report_id, record.HTML_ARTIFACT)

    def version_report(self, version_tags: dict[str, str]) -> dict[str, Any] | None:
        """``{"id", "metrics"}`` of a model version's latest report (from its tags), or None."""
        run_id = version_tags.get(record.VERSION_REPORT_TAG, "")
        if not RUN_ID.match(run_id):
            return None
        run = self._run(run_id)
        if run is None or run.data.tags.get(KIND_TAG) != record.KIND:
            return None
        return {"id": run_id, "metrics": dict(run.data.metrics)}

    def _artifact(self, report_id: str, path: str) -> str:
        check_report_id(report_id)
        run = self._run(report_id)
        if run is None or run.data.tags.get(KIND_TAG) != record.KIND:
            raise NotFound(f"no report {report_id}")
        with tempfile.TemporaryDirectory(prefix="mlplat-report-") as folder:
            local = self._call(
                self.client.download_artifacts, report_id, path, folder, missing=f"{path}"
            )
            return Path(local).read_text(encoding="utf-8")

    def _run(self, run_id: str) -> Any:
        from jupyter_mlplat.deploy.registry import run_or_none

        return run_or_none(self.client, run_id)

    @staticmethod
    def _call(function: Any, *args: Any, missing: str = "", **kwargs: Any) -> Any:
        from jupyter_mlplat.deploy.registry import mlflow_call

        try:
            return mlflow_call(function, *args, missing=missing, owner="report", **kwargs)
        except OSError as err:  # a download whose file is missing from the artifact store
            if missing:
                raise NotFound(f"the report has no {missing}") from None
            raise Unavailable(f"MLflow: {err}") from None

    def close(self) -> None:
        if self._index is not None:
            self._index.close()
