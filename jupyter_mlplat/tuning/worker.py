"""A trial worker: runs its share of a study's trials against the shared study storage.

The same code runs in every mode: in the caller's thread (``none``), in local processes, in Spark
tasks and as the command of a Kubernetes Job's pods (``python -m jupyter_mlplat.tuning.worker``,
configured by the ``MLP_TUNING_*`` variables below). Workers only run Optuna; MLflow runs are
written by the coordinator (or, when it cannot reach the storage, by the worker through
:mod:`jupyter_mlplat.tuning.runs` with the parent run id given explicitly).
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from typing import Any

from jupyter_mlplat.tuning import storage as st
from jupyter_mlplat.tuning.spec import share

#: The worker's settings, as the local launcher and the Kubernetes Job set them.
ENV_STORAGE = "MLP_TUNING_STORAGE"
ENV_STUDY = "MLP_TUNING_STUDY"
ENV_OBJECTIVE = "MLP_TUNING_OBJECTIVE"  # a file holding the cloudpickled objective
ENV_TRIALS = "MLP_TUNING_TRIALS"  # trials of this session, over all workers
ENV_UNTIL = "MLP_TUNING_UNTIL"  # set: workers pull trials until the study has this many
ENV_WORKERS = "MLP_TUNING_WORKERS"
ENV_INDEX = "JOB_COMPLETION_INDEX"  # what an Indexed Job gives each pod
ENV_DEADLINE = "MLP_TUNING_DEADLINE"  # epoch seconds; empty: no timeout
ENV_PRUNER = "MLP_TUNING_PRUNER"
ENV_PARENT_RUN = "MLP_TUNING_PARENT_RUN"  # set: the worker logs its trials' MLflow runs
ENV_METRIC = "MLP_TUNING_METRIC"
ENV_LOG_STUDY = "MLP_TUNING_LOG_STUDY"  # the study's name in MLflow (the storage's may differ)
ENV_DIRECTION = "MLP_TUNING_DIRECTION"  # set: the worker creates the study when missing
#: set (pods, which cannot know how many trials the study already holds): the workers share one
#: budget, fixed by the first of them to claim a trial (see :func:`run_worker`'s ``session``)
ENV_SESSION = "MLP_TUNING_SESSION"

log = logging.getLogger(__name__)


def run_worker(
    url: str,
    study_name: str,
    objective: Callable[[Any], Any],
    trials: int,
    *,
    deadline: float | None = None,
    pruner: str = "median",
    after_trial: Callable[[Any, Any], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    until: int | None = None,
    session: str | None = None,
) -> int:
    """Run ``trials`` trials (fewer when stopped or out of time); return how many ran.

    With ``until`` (a storage :func:`~jupyter_mlplat.tuning.storage.shares_budget`) the
    workers share one budget instead: each takes the
    next trial while the study holds fewer than ``until`` trials, so a worker that started late
    or runs slower takes fewer, and all end together (an even split waits for the slowest).
    With ``session`` instead of ``until`` the first worker to claim a trial sets ``until`` to
    the study's trials then plus ``trials``, in the study, for the session's other workers."""
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = st.load_study(url, study_name, pruner)
    # copies of one sampler in many processes would suggest the same parameters
    study.sampler.reseed_rng()

    def stopping() -> bool:
        return st.stop_requested(study) or (should_stop is not None and should_stop())

    if trials <= 0 or stopping():
        return 0
    ran = 0

    def callback(study: Any, trial: Any) -> None:
        nonlocal ran
        ran += 1
        if after_trial is not None:
            after_trial(study, trial)
        if until is None and stopping():  # pulling, the loop asks before each trial
            study.stop()

    def recorded(trial: Any) -> Any:
        try:
            return objective(trial)
        except optuna.TrialPruned:
            raise
        except Exception as err:  # the trial fails, the study goes on: keep why
            line = f"{type(err).__name__}: {err}".splitlines()[0][:500]
            study._storage.set_trial_system_attr(trial._trial_id, st.ERROR_ATTR, line)
            raise

    if until is not None or session is not None:
        claim = st.trial_claim(url, study_name)

        def claimed(trial: Any) -> Any:
            claim.release()  # the trial exists: the next worker may take its own
            return recorded(trial)

        pulled = 0
        try:
            if until is None:
                with claim:
                    until = session_budget(study, str(session), trials)
            while pulled < trials and not (deadline is not None and time.time() >= deadline):
                with claim:
                    # exact: trials are only created under the claim; the count includes
                    # running ones
                    if stopping() or study._storage.get_n_trials(study._study_id) >= until:
                        break
                    study.optimize(claimed, n_trials=1, catch=(Exception,), callbacks=[callback])
                pulled += 1
        finally:
            claim.close()
        return ran
    timeout = None if deadline is None else max(deadline - time.time(), 0.001)
    study.optimize(
        recorded, n_trials=trials, timeout=timeout, catch=(Exception,), callbacks=[callback]
    )
    return ran


def session_budget(study: Any, session: str, trials: int) -> int:
    """The session's ``until`` (under the claim): set by its first worker, read by the rest."""
    key = f"{st.BUDGET_ATTR}:{session}"
    storage, study_id = study._storage, study._study_id
    until = storage.get_study_system_attrs(study_id).get(key)
    if until is None:
        until = storage.get_n_trials(study_id) + trials
        storage.set_study_system_attr(study_id, key, until)
    return int(until)


def main() -> int:
    """The pod's (and local process's) entry point: everything comes from the environment."""
    import cloudpickle

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    env = os.environ
    with open(env[ENV_OBJECTIVE], "rb") as file:
        objective = cloudpickle.load(file)
    workers, index = int(env[ENV_WORKERS]), int(env.get(ENV_INDEX, "0"))
    until = int(env[ENV_UNTIL]) if env.get(ENV_UNTIL) else None
    session = env.get(ENV_SESSION) or None
    if session is not None and (until is not None or not st.shares_budget(env[ENV_STORAGE])):
        session = None
    # pulling from the shared budget, a worker may run all of it
    trials = int(env[ENV_TRIALS])
    if until is None and session is None:
        trials = share(trials, workers, index)
    deadline = float(env[ENV_DEADLINE]) if env.get(ENV_DEADLINE) else None
    if env.get(ENV_DIRECTION):  # several pods may create it at once: load_if_exists copes
        import optuna

        optuna.create_study(
            study_name=env[ENV_STUDY],
            storage=st.open_storage(env[ENV_STORAGE]),
            direction=env[ENV_DIRECTION],  # type: ignore[arg-type]
            load_if_exists=True,
        )
    after_trial = should_stop = None
    if env.get(ENV_PARENT_RUN):
        from jupyter_mlplat.tuning.runs import TrialLogger

        logger = TrialLogger(
            env[ENV_PARENT_RUN],
            env.get(ENV_METRIC, "value"),
            env.get(ENV_LOG_STUDY) or env[ENV_STUDY],
        )
        after_trial, should_stop = logger.after_trial, logger.stop_requested
    ran = run_worker(
        env[ENV_STORAGE],
        env[ENV_STUDY],
        objective,
        trials,
        deadline=deadline,
        pruner=env.get(ENV_PRUNER, "median"),
        after_trial=after_trial,
        should_stop=should_stop,
        until=until,
        session=session,
    )
    log.info("worker %d of %d ran %d of its %d trials", index, workers, ran, trials)
    return 0


if __name__ == "__main__":
    sys.exit(main())
