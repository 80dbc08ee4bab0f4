"""How each parallel mode starts its trial workers. Each launcher blocks until its workers end
(it runs on the study's runner thread) and raises a one-line error if they could not run."""

from __future__ import annotations

import os
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlplat.errors import InvalidInput, MLPlatError
from jupyter_mlplat.tuning.spec import share


@dataclass
class Launch:
    """What every launcher needs to know about the study it runs."""

    url: str
    study_name: str
    objective: Callable[[Any], Any]
    trials: int
    workers: int
    deadline: float | None
    pruner: str
    folder: Path  # where a launcher may write files (the objective, worker logs)
    env: dict[str, str] = field(default_factory=dict)
    #: set: the workers pull trials from one budget until the study holds this many (see
    #: :func:`jupyter_mlplat.tuning.worker.run_worker`); unset: each runs an even share
    until: int | None = None

    def worker_trials(self, index: int) -> int:
        """The most trials worker ``index`` may run."""
        return self.trials if self.until is not None else share(self.trials, self.workers, index)

    def worker_env(self) -> dict[str, str]:
        """The ``MLP_TUNING_*`` variables of the worker command (without the index)."""
        from jupyter_mlplat.tuning import worker as w

        return {
            w.ENV_STORAGE: self.url,
            w.ENV_STUDY: self.study_name,
            w.ENV_TRIALS: str(self.trials),
            w.ENV_WORKERS: str(self.workers),
            w.ENV_DEADLINE: "" if self.deadline is None else repr(self.deadline),
            w.ENV_PRUNER: self.pruner,
            w.ENV_UNTIL: "" if self.until is None else str(self.until),
        }


def pickled(objective: Callable[[Any], Any]) -> bytes:
    """The objective as bytes for other processes (a notebook's function travels by value)."""
    import cloudpickle

    try:
        return bytes(cloudpickle.dumps(objective))
    except Exception as err:
        raise InvalidInput(
            f"the objective cannot be sent to trial workers ({type(err).__name__}: {err}); "
            "run it with parallel='none'"
        ) from err


def run_in_thread(launch: Launch) -> None:
    """``none``: the trials one after another in this process."""
    import contextlib

    from jupyter_mlplat.tuning import worker as w

    guard: Any = contextlib.nullcontext()
    if "mlflow" in sys.modules:
        # autolog would open a top-level run for every fit the objective makes in this thread;
        # trial runs are written by the coordinator instead
        from mlflow.utils.autologging_utils import disable_autologging

        guard = disable_autologging()
    with guard:
        w.run_worker(
            launch.url,
            launch.study_name,
            launch.objective,
            launch.trials,
            deadline=launch.deadline,
            pruner=launch.pruner,
        )


def run_processes(launch: Launch, payload: bytes) -> None:
    """``local``: one worker process per core, forked from the kernel's pre-started worker
    server (:mod:`jupyter_mlplat.tuning.forkserver`: Optuna is imported there once)."""
    # imported here: ``python -m jupyter_mlplat.tuning.worker`` must not find it loaded
    from jupyter_mlplat.tuning import forkserver
    from jupyter_mlplat.tuning import worker as w

    objective_file = launch.folder / f"{launch.study_name}.objective.pkl"
    objective_file.write_bytes(payload)
    env = {**os.environ, **launch.env, **launch.worker_env(), w.ENV_OBJECTIVE: str(objective_file)}
    # the kernel's MLflow run context must not leak into workers: they do not log
    env.pop("MLFLOW_RUN_ID", None)
    server = forkserver.server()
    workers = []
    for index in range(launch.workers):
        log_path = launch.folder / f"{launch.study_name}.worker-{index}.log"
        try:
            exited = server.start({**env, w.ENV_INDEX: str(index)}, str(log_path))
        except RuntimeError as err:
            raise MLPlatError(f"could not start trial workers: {err}") from err
        workers.append((exited, log_path))
    failed = []
    for exited, path in workers:
        try:
            code = exited.result()
        except RuntimeError as err:
            raise MLPlatError(f"trial workers were lost: {err}") from err
        if code != 0:
            failed.append((code, path))
    if failed:
        code, path = failed[0]
        raise MLPlatError(
            f"{len(failed)} trial worker(s) exited with {code}: {last_line(path)} (log: {path})"
        )


def prestart(parallel: str) -> None:
    """Start what the mode's workers will need before the study's set-up (which then overlaps
    their start): the worker server of ``local``."""
    if parallel == "local":
        from jupyter_mlplat.tuning import forkserver

        forkserver.server()


def last_line(path: Path) -> str:
    """The last non-empty line of a worker's log (the exception, when it crashed)."""
    try:
        lines = [line for line in path.read_text(errors="replace").splitlines() if line.strip()]
    except OSError:
        return "no log"
    return lines[-1].strip()[:300] if lines else "no output"


def spark_slots(spark: Any) -> int | None:
    """Task slots of a Spark (Connect) session: its default parallelism, else its local master."""
    for key in ("spark.default.parallelism", "spark.master"):
        try:
            value = spark.conf.get(key, None)
        except Exception:
            value = None
        if not value:
            continue
        if value.isdigit():
            return int(value)
        if value.startswith("local["):
            inner = value[6:].split(",")[0].rstrip("]")
            return os.cpu_count() if inner == "*" else int(inner) if inner.isdigit() else None
    return None


def run_on_spark(launch: Launch, payload: bytes, spark: Any) -> None:
    """``spark``: one job, a ``mapInArrow`` over one row per worker, one partition each (the
    objective travels once per task); every task runs trials against the shared storage until
    the budget is spent, so more executors run more trials at once. Arrow batches, not pandas:
    a cold Python worker then imports no pandas before its first trial."""
    url, name, until, workers = launch.url, launch.study_name, launch.until, launch.workers
    deadline, pruner = launch.deadline, launch.pruner
    shares = [launch.worker_trials(i) for i in range(workers)]

    def work(batches: Any) -> Any:
        import cloudpickle
        import pyarrow as pa

        from jupyter_mlplat.tuning.worker import run_worker

        objective = cloudpickle.loads(payload)
        for batch in batches:
            for index in batch.column("id").to_pylist():
                n = shares[index]
                ran = run_worker(
                    url, name, objective, n, deadline=deadline, pruner=pruner, until=until
                )
                yield pa.RecordBatch.from_pydict(
                    {"id": pa.array([index], pa.int64()), "ran": pa.array([ran], pa.int64())}
                )

    frame = spark.range(0, workers, 1, workers).mapInArrow(work, "id long, ran long")
    try:
        frame.collect()
    except Exception as err:
        message = str(err).strip().splitlines()[0] if str(err).strip() else type(err).__name__
        raise MLPlatError(f"the Spark job running the trials failed: {message[:400]}") from err
