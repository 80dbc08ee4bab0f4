"""A study run: set up (study, parent run), trial workers on a runner thread, and a coordinator
thread that follows the study storage and logs each finished trial as a child run."""

from __future__ import annotations

import dataclasses
import logging
import math
import os
import threading
import time
import uuid
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor, wait
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, MLPlatError
from jupyter_mlplat.tracking.experiments import get_or_create_experiment
from jupyter_mlplat.tuning import launch as ln
from jupyter_mlplat.tuning import runs
from jupyter_mlplat.tuning import storage as st
from jupyter_mlplat.tuning.spec import (
    TuningProgress,
    TuningResult,
    TuningSpec,
    default_study_name,
    default_workers,
)

log = logging.getLogger(__name__)

#: How often the coordinator reads the study storage (a journal read of the lines added since
#: the last one): the last trials' runs are written at most this long after they ended.
POLL_SECONDS = 0.2
#: ... and once the last trials run (the study's end is near: its runs are the tail)
LAST_POLL_SECONDS = 0.05
#: How often the kernel searches MLflow for the runs of a Kubernetes study's pods.
REMOTE_POLL_SECONDS = 1.0
#: Trial runs the coordinator writes at once.
LOG_THREADS = 4
#: How often the Job's state is read, and how long trials may run on after a stop before the
#: kernel stops waiting for them (pods then still end on their own).
JOB_POLL_SECONDS = 2.0
STOP_GRACE = 120.0
Objective = Callable[[Any], Any]


class TuningRun:
    """A study running in the background. Created by :func:`start`."""

    study_name: str
    parent_run_id: str
    experiment_id: str
    study: Any

    def __init__(self, objective: Objective, spec: TuningSpec, config: MLPlat,
                 spark: Any = None, api_client: Any = None) -> None:  # fmt: skip
        if not callable(objective):
            raise InvalidInput("the objective must be a function of one argument, the trial")
        self.spec, self.config, self.spark = spec.validated(), config, spark
        self._objective = objective
        self._lock = threading.Lock()
        self._stopped = False
        self._finished = False
        self._error: BaseException | None = None
        self._result: TuningResult | None = None
        self._logged: dict[int, str] = {}
        self._writing: dict[int, Future[str]] = {}  # trial number -> its run being written
        self._best_logged: int | None = None
        if self.spec.parallel == "spark" and spark is None:
            raise InvalidInput("parallel='spark' needs a Spark session (spark=...)")
        # kubernetes: the pods' storage is out of the kernel's reach (its URL stays in a
        # Secret): the pods log their trials, the coordinator follows MLflow instead
        self.remote = self.spec.parallel == "kubernetes"
        self.api_client = api_client
        self._remote_trials: dict[int, Any] = {}
        self._active_since: float | None = None
        self._payload = b"" if self.spec.parallel == "none" else ln.pickled(objective)
        ln.prestart(self.spec.parallel)
        self._runner_error: list[BaseException] = []
        self._runner: threading.Thread | None = None
        self._set_up()
        if self.remote:
            try:
                self._submit_job()
            except BaseException:
                runs.terminate(self.client, self.parent_run_id, "FAILED")
                raise
        self._progress = self._snapshot([])
        self._log_pool = ThreadPoolExecutor(LOG_THREADS, thread_name_prefix="mlplat-tune-log")
        self._thread = threading.Thread(
            target=self._coordinate, name=f"mlplat-tune-{self.study_name}", daemon=True
        )
        self._thread.start()

    # -- set-up (in the caller's thread: errors surface at once) --------------------------------
    def _set_up(self) -> None:
        import mlflow
        from mlflow import MlflowClient

        spec, config = self.spec, self.config
        self.client = MlflowClient(config.tracking_uri or mlflow.get_tracking_uri())
        self.experiment_id, experiment_name = self._experiment()
        source = config.notebook_path or experiment_name
        self.study_name = spec.study_name or default_study_name(
            source, getattr(self._objective, "__name__", "")
        )
        self.folder = config.tuning_folder
        self.workers = spec.workers or default_workers(
            spec.parallel,
            spec.trials,
            spark_slots=ln.spark_slots(self.spark) if self.spark else None,
            max_pods=config.tuning_max_pods,
        )
        if self.remote:
            import optuna

            self.url = ""
            # filled from MLflow (direction: validated by TuningSpec)
            self.study = optuna.create_study(direction=spec.direction)  # type: ignore[arg-type]
        else:
            self.url = config.tuning_storage or st.journal_url(self.folder, self.study_name)
            self.study = st.prepare_study(
                self.url, self.study_name, spec.direction, spec.pruner, spec.new
            )
        created = self.study.direction.name.lower()
        if created != spec.direction:
            raise InvalidInput(
                f"study {self.study_name!r} was created to {created}: pass new=True to start a "
                f"fresh study that will {spec.direction}"
            )
        # the clock starts with the trials (here, or at the Job's submission)
        self.deadline: float | None = None
        if not self.remote:
            self._base = len(self._trials())
            # the workers start now: their start (processes, the Spark job) overlaps with
            # writing the parent run below; trials are logged once the parent exists
            if spec.timeout:
                self.deadline = time.time() + spec.timeout
            self._runner = self._start_runner()
        try:
            self._open_parent()
        except BaseException:
            if self._runner is not None:  # no parent run to log them under: no trials
                st.set_stop(self.study, True)
            raise

    def _open_parent(self) -> None:
        spec = self.spec
        tags = {
            runs.tag("storage"): "rdb" if self.remote else st.storage_kind(self.url),
            runs.tag("direction"): spec.direction,
            runs.tag("metric"): spec.metric,
            runs.tag("parallel"): spec.parallel,
        }
        self.parent_run_id, reused = runs.open_parent(
            self.client, self.experiment_id, self.study_name, tags, spec.new
        )
        self.logger = runs.TrialLogger(
            self.parent_run_id, spec.metric, self.study_name, self.client, self.experiment_id
        )
        if self.remote:
            # the storage's study belongs to this parent run: resuming the run resumes it,
            # new=True (a new parent run) starts a fresh one; the old one stays in the database
            self.storage_study = f"{self.study_name}.{self.parent_run_id}"
            self.client.set_tag(self.parent_run_id, runs.tag("stop"), "false")
            if reused:
                self._poll_remote()
        elif reused:
            self._logged = runs.logged_trials(self.client, self.experiment_id, self.parent_run_id)
        if self.remote:
            self._base = len(self._trials())

    def _experiment(self) -> tuple[str, str]:
        """The caller's current MLflow experiment (the kernel's), else the configured one."""
        from mlflow.tracking import fluent

        active = getattr(fluent, "_active_experiment_id", None) or os.environ.get(
            "MLFLOW_EXPERIMENT_ID"
        )
        if active:
            return str(active), str(self.client.get_experiment(active).name)
        name = os.environ.get("MLFLOW_EXPERIMENT_NAME") or self.config.experiment_for(
            self.config.notebook_path
        )
        return get_or_create_experiment(self.client, name), name

    # -- the coordinator thread ------------------------------------------------------------------
    def _coordinate(self) -> None:
        runner_error = self._runner_error
        # kubernetes: the runner follows the Job, submitted after the set-up
        runner = self._runner or self._start_runner()
        status = "FINISHED"
        try:
            while runner.is_alive():
                if self.deadline is not None and time.time() >= self.deadline:
                    self.stop()
                self._poll()
                progress = self.progress()
                if progress.done >= self.spec.trials:
                    # every trial ended: the study is over once their runs are written; the
                    # workers only exit (processes, the Spark job's end): nobody waits for that
                    self._flush()
                    break
                runner.join(self._poll_interval(progress))
            else:
                self._flush()
                if runner_error:
                    raise runner_error[0]
            self._result = self._finish()
        except BaseException as err:
            status = "FAILED"
            self._error = err
            log.warning("study %s failed: %s", self.study_name, err)
        finally:
            self._log_pool.shutdown(wait=False, cancel_futures=True)
            try:
                runs.terminate(self.client, self.parent_run_id, status)
            except Exception as err:
                log.warning("could not end the parent run %s: %s", self.parent_run_id, err)
            with self._lock:  # done and the final snapshot appear together
                self._finished = True
                try:
                    self._progress = self._snapshot(self._trials())
                except Exception:  # the storage went away: the last trials seen will do
                    error = None if self._error is None else _one_line(self._error)
                    self._progress = dataclasses.replace(
                        self._progress, finished=True, stopped=self._stopped, error=error
                    )
                if self._result is not None:
                    self._result = dataclasses.replace(self._result, progress=self._progress)

    def _start_runner(self) -> threading.Thread:
        """The thread that runs the workers (or follows the Job), started."""
        runner = threading.Thread(
            target=self._run_workers, args=(self._runner_error,), daemon=True,
            name=f"mlplat-tune-workers-{self.study_name}",
        )  # fmt: skip
        runner.start()
        return runner

    def _run_workers(self, errors: list[BaseException]) -> None:
        launch = ln.Launch(
            url=self.url,
            study_name=self.study_name,
            objective=self._objective,
            trials=self.spec.trials,
            workers=self.workers,
            deadline=self.deadline,
            pruner=self.spec.pruner,
            folder=self.folder,
            env=self.config.to_environment(for_kernel=True),
            # parallel workers share one budget where the storage has a lock to make taking
            # a trial atomic (see storage.trial_claim); other RDBs keep the even split
            until=self._base + self.spec.trials
            if self.spec.parallel in ("local", "spark") and st.shares_budget(self.url)
            else None,
        )
        try:
            if self.remote:
                self._run_job()
            elif self.spec.parallel == "none":
                ln.run_in_thread(launch)
            elif self.spec.parallel == "local":
                ln.run_processes(launch, self._payload)
            elif self.spec.parallel == "spark":
                ln.run_on_spark(launch, self._payload, self.spark)
        except BaseException as err:
            errors.append(err)

    def _submit_job(self) -> None:
        """The Indexed Job of trial pods, with its ConfigMap (in the caller's thread)."""
        from jupyter_mlplat.tuning import kubernetes as kube
        from jupyter_mlplat.tuning import worker as w

        self.job_name = kube.job_name(self.study_name, self.parent_run_id)
        if self.spec.timeout:  # pods starting later still end at the same time
            self.deadline = time.time() + self.spec.timeout
        env = {
            w.ENV_STUDY: self.storage_study,
            w.ENV_TRIALS: str(self.spec.trials),
            w.ENV_WORKERS: str(self.workers),
            w.ENV_DEADLINE: "" if self.deadline is None else repr(self.deadline),
            w.ENV_PRUNER: self.spec.pruner,
            w.ENV_DIRECTION: self.spec.direction,
            w.ENV_PARENT_RUN: self.parent_run_id,
            w.ENV_METRIC: self.spec.metric,
            w.ENV_LOG_STUDY: self.study_name,
            # the pods share one trial budget where the storage can lock (PostgreSQL)
            w.ENV_SESSION: uuid.uuid4().hex,
            "MLFLOW_TRACKING_URI": self.client.tracking_uri,
            "MLFLOW_DISABLE_TELEMETRY": "true",
        }
        config_map, job = kube.manifests(
            self.config, name=self.job_name, study_name=self.study_name, payload=self._payload,
            workers=self.workers, env=env,
        )  # fmt: skip
        kube.submit(self.config, config_map, job, self.api_client)

    def _run_job(self) -> None:
        """Wait until the Job's trials are logged, the Job ended, or (stopped or out of time)
        the running trials had time to end."""
        from jupyter_mlplat.tuning import kubernetes as kube

        while self.progress().done < self.spec.trials:
            state = kube.job_state(self.config, self.job_name, self.api_client)
            if state == "failed":
                raise MLPlatError(f"the trial Job {self.config.namespace}/{self.job_name} failed")
            if state in ("complete", "gone"):
                return
            if self._active_since is not None and time.time() > self._active_since + STOP_GRACE:
                return
            time.sleep(JOB_POLL_SECONDS)

    def _trials(self) -> list[Any]:
        if self.remote:
            return [self._remote_trials[n] for n in sorted(self._remote_trials)]
        return list(self.study.get_trials(deepcopy=False))

    def _poll_remote(self) -> None:
        """Take in the trial runs the pods logged since the last poll."""
        for run_id, trial in runs.trial_runs(self.client, self.experiment_id, self.parent_run_id):
            if trial.number in self._remote_trials:
                continue
            self._remote_trials[trial.number] = trial
            self._logged[trial.number] = run_id
            runs.add_to_study(self.study, trial)

    def _poll(self) -> None:
        """Log the trials that finished since the last poll; refresh the progress snapshot."""
        if self.remote:
            self._poll_remote()
            trials = self._trials()
        else:
            # one read: what is counted done below is what was logged or is being logged
            trials = self._trials()
            # a trial's run is three requests that mostly wait on the server: written on the
            # pool as soon as the trial is seen ended, several at once, while the polls go on
            for trial in trials:
                number = trial.number
                if (
                    trial.state.is_finished()
                    and number not in self._logged
                    and number not in self._writing
                ):
                    self._writing[number] = self._log_pool.submit(self.logger.log_trial, trial)
            for number, written in list(self._writing.items()):
                if written.done():
                    self._logged[number] = written.result()  # a failed write fails the study
                    del self._writing[number]
        snapshot = self._snapshot(trials)
        best = snapshot.best_trial
        # the parent names the best trial's run: once that is written
        if best is not None and best != self._best_logged and best in self._logged:
            self._best_logged = best
            runs.log_best(
                self.client, self.parent_run_id, f"best_{self.spec.metric}",
                value=float(snapshot.best_value or 0), trial=best, run_id=self._logged[best],
            )  # fmt: skip
        with self._lock:
            self._progress = snapshot

    def _poll_interval(self, progress: TuningProgress) -> float:
        if self.remote:
            return REMOTE_POLL_SECONDS
        last = progress.done + progress.running >= self.spec.trials
        return LAST_POLL_SECONDS if last else POLL_SECONDS

    def _flush(self) -> None:
        """The last poll: every ended trial's run written."""
        self._poll()
        wait(list(self._writing.values()))
        self._poll()

    def _snapshot(self, trials: list[Any]) -> TuningProgress:
        counts = {"COMPLETE": 0, "RUNNING": 0, "PRUNED": 0, "FAIL": 0}
        best = None
        maximize = self.spec.direction == "maximize"
        history = []
        for trial in trials:
            state = trial.state.name
            if trial.number >= self._base and state in counts:
                counts[state] += 1
            history.append((trial.number, trial.value, state))
            if state == "COMPLETE" and _better(trial.value, best, maximize):
                best = trial
        return TuningProgress(
            total=self.spec.trials,
            complete=counts["COMPLETE"],
            running=counts["RUNNING"],
            pruned=counts["PRUNED"],
            failed=counts["FAIL"],
            best_value=None if best is None else float(best.value),
            best_params={} if best is None else dict(best.params),
            best_trial=None if best is None else best.number,
            history=history,
            finished=self._finished,
            stopped=self._stopped,
            error=None if self._error is None else _one_line(self._error),
            parent_run_id=self.parent_run_id,
            study_name=self.study_name,
        )

    def _finish(self) -> TuningResult:
        progress = self._snapshot(self._trials())
        if progress.best_trial is None:
            errors = [
                t.system_attrs.get(st.ERROR_ATTR) for t in self._trials()
                if t.number >= self._base and t.state.name == "FAIL"
            ]  # fmt: skip
            first = next((e for e in errors if e), None)
            raise MLPlatError(
                f"no trial of study {self.study_name!r} completed"
                + (f" ({len(errors)} failed; first: {first})" if errors else "")
            )
        best_run_id = self._logged[progress.best_trial]
        version = None
        if self.spec.register:
            version = self._register(progress, best_run_id)
        return TuningResult(
            study_name=self.study_name,
            parent_run_id=self.parent_run_id,
            best_trial=progress.best_trial,
            best_value=float(progress.best_value or 0.0),
            best_params=progress.best_params,
            best_run_id=best_run_id,
            model_version=version,
            progress=progress,
        )

    def _register(self, progress: TuningProgress, best_run_id: str) -> str:
        """Re-fit the best trial under its run with autolog on, register the model it logged."""
        from jupyter_mlplat.tuning.register import refit_and_register

        return refit_and_register(
            self._objective,
            progress.best_params,
            name=str(self.spec.register),
            experiment_id=self.experiment_id,
            run_id=best_run_id,
            tags={
                runs.tag("study"): self.study_name,
                runs.tag("parent_run_id"): self.parent_run_id,
                runs.tag("trial"): str(progress.best_trial),
                runs.tag("trial_run_id"): best_run_id,
            },
        )

    # -- what callers use ----------------------------------------------------------------------
    def progress(self) -> TuningProgress:
        """The latest snapshot (refreshed by the coordinator every second)."""
        with self._lock:
            return self._progress

    def stop(self) -> None:
        """Start no further trial; running trials finish and are logged."""
        if self._stopped:
            return
        self._stopped = True
        self._active_since = time.time()
        if self.remote:
            self.client.set_tag(self.parent_run_id, runs.tag("stop"), "true")
        else:
            st.set_stop(self.study, True)

    @property
    def done(self) -> bool:
        with self._lock:
            return self._finished

    def join(self, timeout: float | None = None) -> bool:
        """Wait up to ``timeout`` seconds for the study's end; whether it ended."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    def wait(self, timeout: float | None = None) -> TuningResult:
        """The result once the study ended; re-raises the study's error."""
        self._thread.join(timeout)
        if self._thread.is_alive():
            raise TimeoutError(f"study {self.study_name!r} still running after {timeout} s")
        if self._error is not None:
            raise self._error
        assert self._result is not None
        return self._result


def _better(value: float | None, best: Any, maximize: bool) -> bool:
    if value is None or math.isnan(value):
        return False
    if best is None:
        return True
    return bool(value > best.value if maximize else value < best.value)


def _one_line(err: BaseException) -> str:
    text = str(err).strip()
    return (text.splitlines()[0] if text else type(err).__name__)[:500]
