"""Run a pipeline now: its DAG's ``dag.test()`` (Airflow's local runner) in a subprocess with the
platform's environment, reporting each task as JSON lines the caller renders (a live table in a
notebook cell). The subprocess's own output (Airflow's and the tasks' logs) goes to a log file.

The child side is ``python -m jupyter_mlplat.pipelines.runner check FILE`` (import a DAG file
with Airflow's DagBag; print its DAG ids and import errors) and ``... run FILE DAG_ID FD``.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import MLPlatError, NotFound, Unavailable

#: A callback that receives each event: ``{"event": "task", "task_id", "state", "try_number",
#: "duration", "error"}``, ``{"event": "started", "tasks": [...]}``, ``{"event": "finished"}``.
EventHandler = Callable[[dict[str, Any]], None]

#: Airflow's task states that end a task.
FINISHED = {"success", "failed", "upstream_failed", "skipped", "removed"}


@dataclass
class RunResult:
    """What a run did: its final state, each task's last event and where the full log is."""

    dag_id: str
    state: str = "failed"
    run_id: str = ""
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    seconds: float = 0.0
    log: str = ""
    error: str = ""  # the first failed task's error, or why the run could not start

    @property
    def failed_task(self) -> str:
        return next((t for t, e in self.tasks.items() if e.get("state") == "failed"), "")


def airflow_home(config: MLPlat) -> Path:
    """The Airflow home (config, SQLite database, logs) of runs started here: its own, never the
    embedded Airflow's (whose scheduler would also pick up the tasks of a ``dag.test()`` run)."""
    return config.resolved_state_dir / "pipeline-runs" / "airflow"


def airflow_environment(config: MLPlat) -> dict[str, str]:
    """Variables that point Airflow at the project's pipelines folder and its own home."""
    from jupyter_mlplat.pipelines.project import pipelines_dir

    home = airflow_home(config)
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(pipelines_dir(config)),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGBAG_IMPORT_ERROR_TRACEBACK_DEPTH": "20",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
    }


def task_environment(config: MLPlat, dag_id: str) -> dict[str, str]:
    """The environment of a pipeline's tasks: the kernel's platform settings (tracking server,
    Spark, user), the pipeline's MLflow experiment and Airflow's variables."""
    from jupyter_mlplat.pipelines.project import pipelines_dir
    from jupyter_mlplat.quality.suites import suites_dir
    from jupyter_mlplat.tracking.settings import tracking_environment

    env = config.to_environment(for_kernel=True) | tracking_environment(config)
    env = {k: v for k, v in env.items() if v}
    if config.tracking_uri:
        env["MLFLOW_EXPERIMENT_NAME"] = experiment_name(config, dag_id)
    env.pop("MLP_NOTEBOOK_PATH", None)  # a task is not a notebook (no notebook run tags)
    # the project's folders as resolved here: a task finds the same suites whatever its cwd
    env["MLP_PIPELINES_DIR"] = str(pipelines_dir(config))
    env["MLP_QUALITY_SUITES_DIR"] = str(suites_dir(config))
    return env | airflow_environment(config)


def experiment_name(config: MLPlat, dag_id: str) -> str:
    """The MLflow experiment of a pipeline's runs (the one the pipeline listener uses)."""
    return config.experiment_for(f"{dag_id}.py")


def run_now(
    name: str,
    on_event: EventHandler | None = None,
    config: MLPlat | None = None,
    timeout: float | None = None,
) -> RunResult:
    """Run pipeline ``name`` once now; ``on_event`` sees each task start and finish."""
    from jupyter_mlplat.pipelines.project import pipeline_path

    config = config or MLPlat()
    path = pipeline_path(config, name)
    if not path.is_file():
        raise NotFound(f"no pipeline {name!r} in {path.parent} (see %mlp pipeline list)")
    logs = airflow_home(config) / "logs" / "mlplat-runs" / name
    logs.mkdir(parents=True, exist_ok=True)
    log_path = logs / f"{datetime.now(UTC):%Y%m%dT%H%M%S}.log"
    result = RunResult(name, log=str(log_path))
    started = time.monotonic()
    read_fd, write_fd = os.pipe()
    env = os.environ.copy()
    env.pop("MLP_NOTEBOOK_PATH", None)
    env |= task_environment(config, name)
    command = [sys.executable, "-m", __name__, "run", str(path), name, str(write_fd)]
    with log_path.open("wb") as log:
        try:
            process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                pass_fds=(write_fd,),
                start_new_session=True,
            )
        finally:
            os.close(write_fd)
        with os.fdopen(read_fd) as events, _stop_on_exit(process):
            for line in _lines(events, process, timeout):
                event = json.loads(line)
                _apply(result, event)
                if on_event is not None:
                    on_event(event)
        code = process.wait()
    result.seconds = time.monotonic() - started
    if code != 0 and not result.error:
        result.error = _last_error(log_path) or f"the runner exited with code {code}"
    return result


def _apply(result: RunResult, event: dict[str, Any]) -> None:
    kind = event.get("event")
    if kind == "task":
        result.tasks[event["task_id"]] = event
        if event.get("state") == "failed" and event.get("error") and not result.error:
            result.error = f"{event['task_id']}: {event['error']}"
    elif kind == "started":
        result.run_id = event.get("run_id", "")
        for task_id in event.get("tasks", []):
            result.tasks.setdefault(task_id, {"task_id": task_id, "state": "scheduled"})
    elif kind == "finished":
        result.state = event.get("state", "failed")
        result.run_id = event.get("run_id", result.run_id)
    elif kind == "error":
        result.error = event.get("message", "")


def _lines(events: Any, process: subprocess.Popen[bytes], timeout: float | None) -> Iterator[str]:
    deadline = time.monotonic() + timeout if timeout else None
    for line in events:
        if deadline and time.monotonic() > deadline:
            raise Unavailable(f"the pipeline run took over {timeout:.0f} s; stopped it")
        if line.strip():
            yield line


@contextlib.contextmanager
def _stop_on_exit(process: subprocess.Popen[bytes]) -> Iterator[None]:
    """Stop the run's process group when the caller stops waiting (Ctrl-C, timeout)."""
    try:
        yield
    except BaseException:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, 15)
        with contextlib.suppress(subprocess.TimeoutExpired):
            process.wait(10)
        raise


def _last_error(log_path: Path) -> str:
    """The last ``SomethingError: ...`` line of a run's log."""
    for line in reversed(log_path.read_text(errors="replace").splitlines()):
        text = line.strip()
        if ("Error" in text or "Exception" in text) and ": " in text and not text.startswith("["):
            return text[:500]
    return ""


# -- the child process ------------------------------------------------------------------------
def _ensure_database() -> None:
    """``airflow db migrate`` once per Airflow home and version (idempotent; a lock keeps two
    first runs from migrating at once)."""
    import fcntl

    from airflow import __version__ as version

    home = Path(os.environ["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    marker = home / f".mlplat-db-{version}"
    if marker.exists():
        return
    with (home / ".mlplat-db.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.exists():
            return
        done = subprocess.run(
            [sys.executable, "-m", "airflow", "db", "migrate"],
            capture_output=True,
            text=True,
            check=False,
        )
        if done.returncode != 0:
            tail = (done.stderr or done.stdout).strip().splitlines()[-1:]
            raise MLPlatError(f"airflow db migrate failed: {' '.join(tail)}")
        marker.touch()


def _load(path: str) -> Any:
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=path, safe_mode=False)


def _check(path: str) -> int:
    bag = _load(path)
    errors = [{"file": f, "message": str(m)} for f, m in bag.import_errors.items()]
    print(json.dumps({"dag_ids": sorted(bag.dags), "errors": errors}), flush=True)
    return 0


class _TaskEvents:
    """An Airflow listener (the task runner calls it in this process under ``dag.test()``) that
    writes one JSON line per task start and end."""

    def __init__(self, emit: Callable[..., None]) -> None:
        self.emit = emit
        self.started: dict[str, float] = {}
        self.last: dict[str, dict[str, Any]] = {}  # each task's last event

    def _send(self, ti: Any, state: str, error: Any = None) -> None:
        begun = self.started.setdefault(ti.task_id, time.monotonic())
        event = {
            "event": "task",
            "task_id": ti.task_id,
            "state": state,
            "try_number": int(getattr(ti, "try_number", 1) or 1),
            "duration": round(time.monotonic() - begun, 2) if state != "running" else 0.0,
            "error": _error_line(error),
        }
        self.last[ti.task_id] = event
        self.emit(**event)

    def settle(self, task_id: str, state: str, try_number: int) -> None:
        """The run's final state of a task, when it differs from what was reported (tasks that
        never ran: upstream_failed, skipped by a branch)."""
        last = self.last.get(task_id) or {"event": "task", "task_id": task_id}
        if last.get("state") != state:
            self.emit(**(last | {"state": state, "try_number": try_number}))

    def on_task_instance_running(self, previous_state: Any, task_instance: Any) -> None:
        self.started[task_instance.task_id] = time.monotonic()
        self._send(task_instance, "running")

    def on_task_instance_success(self, previous_state: Any, task_instance: Any) -> None:
        self._send(task_instance, "success")

    def on_task_instance_failed(self, previous_state: Any, task_instance: Any, error: Any) -> None:
        # the same hook reports a failure that will be retried: the instance's state says which
        state = str(getattr(task_instance.state, "value", task_instance.state) or "failed")
        self._send(task_instance, "up_for_retry" if state == "up_for_retry" else "failed", error)

    def on_task_instance_skipped(self, previous_state: Any, task_instance: Any) -> None:
        self._send(task_instance, "skipped")


def _error_line(error: Any) -> str:
    if error is None:
        return ""
    text = f"{type(error).__name__}: {error}" if isinstance(error, BaseException) else str(error)
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return lines[0][:500] if lines else ""


def _hooked(listener: _TaskEvents) -> _TaskEvents:
    """Mark the listener's methods as Airflow hook implementations."""
    from airflow.listeners import hookimpl

    for name in (
        "on_task_instance_running",
        "on_task_instance_success",
        "on_task_instance_failed",
        "on_task_instance_skipped",
    ):
        hookimpl(getattr(type(listener), name))
    return listener


def _run(path: str, dag_id: str, fd: int) -> int:
    from jupyter_mlplat.pipelines.project import import_error_line

    with os.fdopen(fd, "w", buffering=1) as out:

        def emit(**event: Any) -> None:
            out.write(json.dumps(event) + "\n")

        _ensure_database()
        bag = _load(path)
        if bag.import_errors:
            file, message = next(iter(bag.import_errors.items()))
            line = import_error_line({"message": message}, Path(file), Path(file).parent)
            emit(event="error", message=line)
            return 3
        dag = bag.dags.get(dag_id)
        if dag is None:
            emit(event="error", message=f"{Path(path).name} defines no DAG {dag_id!r}")
            return 3
        from airflow.sdk.listener import get_listener_manager

        listener = _hooked(_TaskEvents(emit))
        get_listener_manager().add_listener(listener)
        emit(event="started", tasks=[t.task_id for t in dag.topological_sort()])
        run = dag.test()
        for ti in run.get_task_instances():
            state = str(getattr(ti.state, "value", ti.state) or "none")
            listener.settle(ti.task_id, state, int(ti.try_number or 0))
        state = str(getattr(run.state, "value", run.state))
        emit(event="finished", state=state, run_id=run.run_id)
        return 0 if state == "success" else 1


def main(argv: list[str]) -> int:
    if argv[:1] == ["check"] and len(argv) == 2:
        return _check(argv[1])
    if argv[:1] == ["run"] and len(argv) == 4:
        return _run(argv[1], argv[2], int(argv[3]))
    print("usage: python -m jupyter_mlplat.pipelines.runner check FILE | run FILE DAG_ID FD")
    return 2


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
