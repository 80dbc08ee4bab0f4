"""Lineage captured from a Spark Connect session with no user code.

A :class:`LineageCapture` is a session extension (see ``spark.session.SparkSessions``): Spark's
client calls its hook with every ``ExecutePlanRequest`` before sending it, and its progress
handler with ``done=True`` when the operation ends (also when it fails: the handler then runs
inside the client's ``with`` exit, where the exception is visible). On the user's thread the
capture only reads the plan and notes the operation (a few tens of microseconds); digests, MLflow
records and OpenLineage events are made on one background thread, so an action never waits for
them. ``flush()`` waits for that thread (the kernel calls it after each cell, task processes at
exit). Nothing is recorded without an active MLflow run. A failure never reaches the user's
action: it is logged once as a warning.
"""

from __future__ import annotations

import atexit
import logging
import os
import queue
import sys
import threading
import time
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.lineage.plan import Tables, normalize, request_tables

log = logging.getLogger(__name__)

#: Operations noted but not yet done, kept at most (a client that never reports an end).
MAX_PENDING = 1000


@dataclass
class _Action:
    """One Spark operation of an MLflow run that names tables."""

    session: Any
    operation_id: str
    run_id: str
    experiment_id: str
    tables: Tables
    started: float
    ended: float = 0.0
    failed: bool = False


class _Hook:
    """The ``SparkSession.Hook`` of one session: notes the tables of each request."""

    def __init__(self, capture: LineageCapture, session: Any) -> None:
        self.capture = capture
        self.session = session

    def on_execute_plan(self, request: Any) -> Any:
        self.capture.on_plan(self.session, request)
        return request


@dataclass
class _RunState:
    """What one MLflow run already recorded (for de-duplication)."""

    recorded: set[tuple[str, str, str]] = field(default_factory=set)  # table, context, digest
    checked: dict[str, float] = field(default_factory=dict)  # table -> when last digested


class LineageCapture:
    """Records the tables read and written through hooked sessions into the active MLflow run
    (``lineage.record``) and as OpenLineage events (``lineage.openlineage``)."""

    def __init__(self, config: MLPlat, job: str = "", send: Any = None) -> None:
        """``send``: where OpenLineage events go instead of this process's own files and
        endpoint (``openlineage.Send``; a kernel hands them to the Jupyter server)."""
        self.config = config
        self.job = job or default_job(config)
        self._send = send
        self._pending: dict[str, _Action] = {}
        self._queue: queue.Queue[_Action] = queue.Queue()
        self._worker: threading.Thread | None = None
        self._lock = threading.Lock()
        self._runs: dict[str, _RunState] = {}
        self._written: dict[str, float] = {}  # table -> when this process last wrote it
        self._warned = False
        self._internal = threading.local()
        self._sink: Any = None
        self._client: Any = None

    # -- the session extension (spark.session.SparkSessions) ----------------------------------
    def hook(self, session: Any) -> _Hook:
        """A hook factory for ``SparkSession.builder._registerHook``."""
        return _Hook(self, session)

    def progress(self, *, operation_id: str = "", done: bool = False, **_: Any) -> None:
        """The progress handler: hands a finished operation to the background thread."""
        if not done or not self._pending:
            return
        action = self._pending.pop(operation_id, None)
        if action is None:
            return
        # called from the client's ``with Progress(...)`` exit: an exception there is visible
        action.failed = sys.exc_info()[0] is not None
        action.ended = time.time()
        self._queue.put(action)
        if self._worker is None:
            self._start_worker()

    # -- the user's thread --------------------------------------------------------------------
    def on_plan(self, session: Any, request: Any) -> None:
        """Note ``request`` if an MLflow run is active and its plan names tables."""
        if getattr(self._internal, "active", False):
            return
        mlflow = sys.modules.get("mlflow")
        active_run = getattr(mlflow, "active_run", None)
        if active_run is None:
            return  # MLflow not imported yet: no run can be active
        try:
            run = active_run()
            if run is None:
                return
            tables = request_tables(request)
            if not tables:
                return
            if len(self._pending) >= MAX_PENDING:
                self._pending.clear()
            self._pending[request.operation_id] = _Action(
                session,
                request.operation_id,
                run.info.run_id,
                str(run.info.experiment_id),
                tables,
                time.time(),
            )
        except Exception as err:
            self._warn(err)

    # -- waiting ------------------------------------------------------------------------------
    def flush(self, timeout: float = 30.0) -> bool:
        """Wait until every finished operation is recorded; False if ``timeout`` passed first."""
        deadline = time.monotonic() + timeout
        done = self._queue.all_tasks_done
        with done:
            while self._queue.unfinished_tasks:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    return False
                done.wait(remaining)
        return True

    # -- the background thread ----------------------------------------------------------------
    def _start_worker(self) -> None:
        with self._lock:
            if self._worker is not None:
                return
            self._worker = threading.Thread(target=self._work, name="mlplat-lineage", daemon=True)
            self._worker.start()
        atexit.register(self.flush, 10.0)

    def _work(self) -> None:
        self._internal.active = True  # this thread's own Spark calls are not captured
        while True:
            action = self._queue.get()
            try:
                self._record(action)
            except Exception as err:
                self._warn(err)
            finally:
                self._queue.task_done()

    def _record(self, action: _Action) -> None:
        from jupyter_mlplat.lineage.openlineage import ActionRun, LineageDataset
        from jupyter_mlplat.lineage.record import INPUT_CONTEXT, OUTPUT_CONTEXT

        state = self._runs.setdefault(action.run_id, _RunState())
        inputs = self._names(action.session, action.tables.inputs)
        outputs = self._names(action.session, action.tables.outputs)
        now = time.monotonic()
        for table in outputs:
            self._written[table] = now
        if action.failed:
            return  # nothing was read or written for sure: no record, no event
        new: list[Any] = []
        datasets: dict[str, list[Any]] = {"inputs": [], "outputs": []}
        for role, context, tables in (
            ("inputs", INPUT_CONTEXT, inputs),
            ("outputs", OUTPUT_CONTEXT, outputs),
        ):
            for table in tables:
                if role == "inputs" and not self._due(state, table, now):
                    continue
                snap = self._snapshot(action.session, table)
                state.checked[table] = now
                if snap is None:
                    continue
                datasets[role].append(LineageDataset(table, snap.digest, snap.columns))
                key = (table, context, snap.digest)
                if key not in state.recorded:
                    new.append((key, snap))
        if not new:
            return
        self._log_inputs(action.run_id, new)
        for key, _ in new:
            state.recorded.add(key)
        self._emit(
            ActionRun(
                action.operation_id,
                action.run_id,
                action.experiment_id,
                self.job,
                action.started,
                action.ended,
                action.failed,
                tuple(datasets["inputs"]),
                tuple(datasets["outputs"]),
            )
        )

    def _due(self, state: _RunState, table: str, now: float) -> bool:
        """Whether a table read again in a run must be digested again: not within the recheck
        period, unless this process wrote it since."""
        checked = state.checked.get(table)
        if checked is None:
            return True
        recent = now - checked < self.config.lineage_recheck_seconds
        return not recent or self._written.get(table, 0.0) >= checked

    def _names(self, session: Any, names: tuple[str, ...]) -> list[str]:
        from jupyter_mlplat.deploy.batch import STAGING_MARK

        found = []
        current = ""
        for name in names:
            if STAGING_MARK in name:
                continue  # a batch prediction's staging table: renamed into its output
            if "." not in name:
                current = current or normalize(session.catalog.currentDatabase())
            found.append(name if "." in name else f"{current}.{name}")
        return list(dict.fromkeys(found))

    def _snapshot(self, session: Any, table: str) -> Any:
        from jupyter_mlplat.catalog.snapshot import snapshot

        try:
            return snapshot(session, table)
        except Exception as err:  # a temporary view, a CTE name: not a catalog table
            log.debug("mlplat lineage: no snapshot of %s: %s", table, err)
            return None

    def _log_inputs(self, run_id: str, new: list[Any]) -> None:
        from jupyter_mlplat.lineage.record import dataset_input

        if self._client is None:
            from mlflow import MlflowClient

            self._client = MlflowClient()
        datasets = [dataset_input(snap, table, context) for (table, context, _), snap in new]
        self._client.log_inputs(run_id, datasets=datasets)

    def _emit(self, run: Any) -> None:
        from jupyter_mlplat.lineage.openlineage import EventSink

        if self._sink is None:
            self._sink = EventSink(self.config, self._send)
        try:
            self._sink.emit(run)
        except Exception as err:
            self._warn(err)

    def _warn(self, err: BaseException) -> None:
        if self._warned:
            log.debug("mlplat lineage: %s", err)
            return
        self._warned = True
        log.warning(
            "mlplat: lineage capture failed (your Spark actions are not affected; further "
            "failures are not shown): %s: %s",
            type(err).__name__,
            str(err).splitlines()[0] if str(err) else "",
        )


def default_job(config: MLPlat) -> str:
    """The OpenLineage job name of this process: the Airflow task, else the notebook."""
    dag, task = os.environ.get("AIRFLOW_CTX_DAG_ID"), os.environ.get("AIRFLOW_CTX_TASK_ID")
    if dag and task:
        return f"pipeline.{dag}.{task}"
    if config.notebook_path:
        return f"notebook.{config.notebook_path}"
    return "spark-session"
