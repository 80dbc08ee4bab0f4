"""The pipelines service behind the Pipelines panel, its REST API and ``%mlp pipeline``.

It speaks to Airflow's REST API v2: the platform's embedded Airflow, or a team's shared one.
On a shared Airflow (``MLP_AIRFLOW_SHARED``) a user sees and triggers only their own pipelines:
those tagged ``owner:<user>`` or whose owner is the user.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, NotFound, Unavailable
from jupyter_mlplat.pipelines.airflow import AirflowClient, quote
from jupyter_mlplat.pipelines.assets import on_table_changed

_DAG_ID = re.compile(r"^[A-Za-z0-9_.\-]{1,250}$")
_TRACEBACK_LINE = re.compile(r'File "([^"]+)", line (\d+)')
MAX_RUNS = 100
MAX_LOG_LINES = 5000


def _dag_id(value: str) -> str:
    if not _DAG_ID.match(value or ""):
        raise InvalidInput(f"invalid pipeline name {value!r}")
    return value


class PipelinesService:
    """List, trigger, pause and inspect the user's pipelines on Airflow."""

    def __init__(self, config: MLPlat, client: AirflowClient | None) -> None:
        self.config = config
        self._client = client

    @classmethod
    def from_config(cls, config: MLPlat) -> PipelinesService:
        url = config.airflow_url
        return cls(config, AirflowClient(url, config.airflow_token) if url else None)

    @property
    def client(self) -> AirflowClient:
        if self._client is None:
            raise Unavailable(
                "no Airflow is configured (MLP_AIRFLOW_URL); `mlplat up` starts one when the "
                "project's pipelines folder has a DAG file"
            )
        return self._client

    def _call(self, method: str, path: str, body: Any = None, **params: Any) -> Any:
        try:
            if method == "GET":
                return self.client.get(path, **params)
            return self.client.request(method, path, body)
        except Unavailable as err:
            if "not reachable" in str(err):
                raise Unavailable(
                    f"{err} (the platform starts Airflow when the pipelines folder has a DAG file)"
                ) from None
            raise

    # -- ownership ----------------------------------------------------------------------------
    @property
    def user(self) -> str:
        return self.config.resolved_user

    def owns(self, dag: dict[str, Any]) -> bool:
        """Whether the user may see and trigger ``dag`` (every DAG, on a one-user Airflow)."""
        if not self.config.airflow_shared:
            return True
        tags = {t.get("name") for t in dag.get("tags", [])}
        return f"owner:{self.user}" in tags or self.user in (dag.get("owners") or [])

    def _dag(self, dag_id: str) -> dict[str, Any]:
        dag = self._call("GET", f"/api/v2/dags/{quote(_dag_id(dag_id))}")
        if not self.owns(dag):  # someone else's pipeline: as if it did not exist
            raise NotFound(f"pipeline {dag_id!r} does not exist")
        return dict(dag)

    # -- queries ------------------------------------------------------------------------------
    def _own_dags(self) -> list[dict[str, Any]]:
        """The DAGs the user may see (every DAG, on a one-user Airflow)."""
        pages = self._pages("/api/v2/dags", "dags", order_by="dag_id")
        return [dag for page in pages for dag in page if self.owns(dag)]

    def _pages(
        self, path: str, key: str, *, size: int = 100, **params: Any
    ) -> Iterator[list[dict[str, Any]]]:
        """Airflow's list at ``path`` (its items under ``key``), page by page, ``size`` asked
        for each (Airflow may answer fewer)."""
        offset = 0
        while True:
            found = self._call("GET", path, limit=size, offset=offset, **params)
            items = list(found.get(key, []))
            yield items
            offset += len(items)
            if not items or offset >= found.get("total_entries", 0):
                return

    def pipelines(self) -> dict[str, Any]:
        """The user's pipelines with their last run, and the import errors of DAG files."""
        mine = self._own_dags()
        runs = []
        for dag in mine:
            runs += self._latest(dag["dag_id"], 1)
        last_runs = self._with_tasks(runs)
        return {
            "pipelines": [self._pipeline(d, last_runs) for d in mine],
            "import_errors": self.import_errors(),
        }

    def _latest(self, dag_id: str, limit: int) -> list[dict[str, Any]]:
        """Airflow's newest runs of a DAG."""
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns"
        return list(self._call("GET", path, limit=limit, order_by="-run_after").get("dag_runs", []))

    def _pipeline(
        self, dag: dict[str, Any], last_runs: list[dict[str, Any]] | None = None
    ) -> dict[str, Any]:
        tags = sorted(t.get("name", "") for t in dag.get("tags", []))
        owner = next((t[len("owner:") :] for t in tags if t.startswith("owner:")), "")
        if last_runs is None:
            last_runs = self._with_tasks(self._latest(dag["dag_id"], 1))
        latest = [r for r in last_runs if r["dag_id"] == dag["dag_id"]]
        return {
            "dag_id": dag["dag_id"],
            "owner": owner or ",".join(dag.get("owners") or []),
            "schedule": dag.get("timetable_summary"),
            "next_run": dag.get("next_dagrun_run_after"),
            "paused": bool(dag.get("is_paused")),
            "file": dag.get("relative_fileloc") or dag.get("fileloc") or "",
            "tags": tags,
            "last_run": _public(latest[0]) if latest else None,
        }

    def import_errors(self) -> list[dict[str, Any]]:
        """DAG files Airflow could not import: file, line and the error's last line."""
        errors = self._call("GET", "/api/v2/importErrors", limit=100).get("import_errors", [])
        result = []
        for error in errors:
            filename = error.get("filename", "")
            if self.config.airflow_shared and not filename.startswith(f"{self.config.namespace}/"):
                continue  # published from another namespace (cluster.py's folder layout)
            trace = error.get("stack_trace", "")
            lines = [ln.strip() for ln in trace.splitlines() if ln.strip()]
            result.append(
                {
                    "file": filename,
                    "line": _error_line(trace, filename),
                    "message": lines[-1] if lines else "",
                }
            )
        return result

    def runs(self, dag_id: str, limit: int = 10, *, check: bool = True) -> list[dict[str, Any]]:
        """The newest runs of a pipeline, each with its tasks' states."""
        if not 1 <= limit <= MAX_RUNS:
            raise InvalidInput(f"limit must be between 1 and {MAX_RUNS}")
        if check:
            self._dag(dag_id)
        return [_public(run) for run in self._with_tasks(self._latest(dag_id, limit))]

    def runs_updated(self, since: str = "", page: int = 100) -> Iterator[list[dict[str, Any]]]:
        """Pages of the user's runs of every pipeline that Airflow changed at or after
        ``since`` (an ISO time; all runs when empty), oldest change first; each run as
        :func:`_summary` says (no tasks; :meth:`asset_events` names what started an
        asset-triggered one)."""
        mine: set[str] | None = None
        if self.config.airflow_shared:
            mine = {d["dag_id"] for d in self._own_dags()}
        for runs in self._pages("/api/v2/dags/~/dagRuns", "dag_runs", size=page,
                                order_by="updated_at", updated_at_gte=since or None):  # fmt: skip
            yield [_summary(run) for run in runs if mine is None or run["dag_id"] in mine]

    def asset_events(self, dag_id: str, run_id: str) -> list[str]:
        """The assets whose events started an asset-triggered run (their names or URIs)."""
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}/upstreamAssetEvents"
        events = self._call("GET", path).get("asset_events", [])
        return sorted({str(e.get("name") or e.get("uri") or "") for e in events} - {""})

    def _with_tasks(self, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """Airflow's ``runs`` as this API's runs with their tasks.

        Read with GET, a call per pipeline: Airflow's batch read (``POST .../taskInstances/
        list``) writes an audit-log row on every call, from its event loop, and on the embedded
        Airflow's SQLite that write can wait out the database lock of a request the blocked
        loop would have finished: the API server stalls for the whole lock timeout (30 s) and
        the read fails. Reads must write nothing."""
        by_dag: dict[str, list[dict[str, Any]]] = {}
        for run in runs:
            by_dag.setdefault(run["dag_id"], []).append(run)
        tasks: dict[tuple[str, str], list[dict[str, Any]]] = {}
        for dag_id, dag_runs in by_dag.items():
            wanted = {r["dag_run_id"] for r in dag_runs}
            for ti in self._task_instances(dag_id, dag_runs):
                if ti["dag_run_id"] in wanted:
                    tasks.setdefault((dag_id, ti["dag_run_id"]), []).append(ti)
        return [_run(r, tasks.get((r["dag_id"], r["dag_run_id"]), [])) for r in runs]

    def _task_instances(self, dag_id: str, runs: list[dict[str, Any]]) -> Iterator[dict[str, Any]]:
        """The task instances of ``runs`` of ``dag_id``: of the one run, or of every run in
        their span of ``run_after`` (the caller keeps its own), page by page."""
        span: dict[str, Any] = {}
        run_id = "~"
        if len(runs) == 1:
            run_id = quote(runs[0]["dag_run_id"])
        elif all(r.get("run_after") for r in runs):
            afters = sorted(str(r["run_after"]) for r in runs)
            span = {"run_after_gte": afters[0], "run_after_lte": afters[-1]}
        path = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{run_id}/taskInstances"
        for page in self._pages(path, "task_instances", order_by="id", **span):
            yield from page

    def log_tail(self, dag_id: str, run_id: str, task_id: str, tail: int = 100) -> str:
        """The last ``tail`` lines of a task's log (its latest try)."""
        if not 1 <= tail <= MAX_LOG_LINES:
            raise InvalidInput(f"tail must be between 1 and {MAX_LOG_LINES}")
        self._dag(dag_id)
        run = f"/api/v2/dags/{quote(dag_id)}/dagRuns/{quote(run_id)}"
        base = f"{run}/taskInstances/{quote(task_id)}"
        instance = self._call("GET", base)
        try_number = int(instance.get("try_number") or 0)
        if try_number < 1:
            return ""
        log = self._call("GET", f"{base}/logs/{try_number}", full_content="true")
        lines: list[str] = []
        for entry in log.get("content", []):
            lines += _log_lines(entry)
        return "\n".join(lines[-tail:])

    # -- actions ------------------------------------------------------------------------------
    def trigger(self, dag_id: str) -> dict[str, Any]:
        """Start a run now; the run (queued) comes back."""
        self._dag(dag_id)
        run = self._call("POST", f"/api/v2/dags/{quote(dag_id)}/dagRuns", {"logical_date": None})
        return _public(self._with_tasks([run])[0])

    def set_paused(self, dag_id: str, paused: bool) -> dict[str, Any]:
        self._dag(dag_id)
        dag = self._call("PATCH", f"/api/v2/dags/{quote(dag_id)}", {"is_paused": paused})
        return self._pipeline(dag)

    def table_observer(self) -> Any:
        """A callback for the catalog's "table changed" notices (sends asset events)."""
        if self._client is None:
            return lambda database, table: None
        return on_table_changed(self._client)


def _run(run: dict[str, Any], instances: list[dict[str, Any]]) -> dict[str, Any]:
    """A run as the API shows it (with ``dag_id`` until :func:`_public`)."""
    tasks = [
        {
            "task_id": ti["task_id"],
            "map_index": ti.get("map_index", -1),
            "state": ti.get("state"),
            "try_number": ti.get("try_number", 0),
            "start": ti.get("start_date"),
            "end": ti.get("end_date"),
        }
        for ti in sorted(instances, key=lambda t: (t.get("start_date") or "~", t["task_id"]))
    ]
    return {
        "dag_id": run["dag_id"],
        "run_id": run["dag_run_id"],
        "state": run.get("state"),
        "start": run.get("start_date"),
        "end": run.get("end_date"),
        "triggered_by": run.get("triggered_by") or run.get("run_type") or "",
        "run_type": run.get("run_type") or "",
        "tasks": tasks,
    }


def _summary(run: dict[str, Any]) -> dict[str, Any]:
    """A run without its tasks: what the one search indexes."""
    return {
        "dag_id": run["dag_id"],
        "run_id": run["dag_run_id"],
        "state": run.get("state") or "",
        "run_type": run.get("run_type") or "",
        "triggered_by": run.get("triggered_by") or "",
        "user": run.get("triggering_user_name") or "",
        "start": run.get("start_date") or run.get("queued_at") or run.get("run_after"),
        "end": run.get("end_date"),
    }


def _public(run: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in run.items() if k != "dag_id"}


def _error_line(trace: str, filename: str) -> int | None:
    """The line of ``filename`` the traceback points at last (the user's code, not Airflow's)."""
    line = None
    for path, number in _TRACEBACK_LINE.findall(trace):
        if filename and (path == filename or path.endswith("/" + filename.lstrip("/"))):
            line = int(number)
    if line is None:  # a SyntaxError names the file in its own words
        match = re.search(r"line (\d+)", trace)
        line = int(match.group(1)) if match else None
    return line


def _log_lines(entry: Any) -> list[str]:
    """One structured log record of Airflow as text lines (with an exception's traceback)."""
    if isinstance(entry, str):
        return entry.splitlines()
    event = str(entry.get("event", ""))
    if event.startswith("::group::") or event == "::endgroup::":
        return []
    stamp = str(entry.get("timestamp", ""))[:19].replace("T", " ")
    level = str(entry.get("level", "")).upper()
    head = " ".join(p for p in (stamp, level and f"[{level}]", event) if p)
    lines = [head]
    for error in entry.get("error_detail") or []:
        for frame in error.get("frames", []):
            lines.append(
                f'  File "{frame.get("filename")}", line {frame.get("lineno")}, '
                f"in {frame.get('name')}"
            )
        lines.append(f"{error.get('exc_type', '')}: {error.get('exc_value', '')}")
    return lines
