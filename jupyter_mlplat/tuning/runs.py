"""The MLflow side of a study: one parent run per study, one child run per finished trial.

Every call names its run ids explicitly (``mlflow.parentRunId`` is a tag we set, runs are written
with :class:`mlflow.MlflowClient`): no active-run stack, so nesting holds across threads,
processes and pods — what the upstream integrations get wrong (optuna#5148, optuna#4088).
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Iterator
from types import SimpleNamespace
from typing import Any

from jupyter_mlplat.tracking.tags import TUNING_TAG
from jupyter_mlplat.tuning import storage as st

PARENT_TAG = "mlflow.parentRunId"
#: Run status of a finished trial, by Optuna state.
STATUS = {"COMPLETE": "FINISHED", "PRUNED": "KILLED", "FAIL": "FAILED"}
DURATION_METRIC = "trial_duration_s"
#: MLflow's batch limits
_MAX_PARAMS, _MAX_METRICS = 100, 1000


def tag(name: str) -> str:
    return f"{TUNING_TAG}{name}"


def find_parent(client: Any, experiment_id: str, study_name: str) -> Any:
    """The newest parent run of ``study_name`` in the experiment, or None."""
    runs = client.search_runs(
        [experiment_id],
        filter_string=f"tags.`{tag('study')}` = '{study_name}' and tags.`{tag('kind')}` = 'study'",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    return runs[0] if runs else None


def open_parent(client: Any, experiment_id: str, study_name: str, tags: dict[str, str],
                new: bool) -> tuple[str, bool]:  # fmt: skip
    """The parent run's id (reused unless ``new``) and whether it was reused; marked RUNNING."""
    found = None if new else find_parent(client, experiment_id, study_name)
    if found is not None:
        run_id = found.info.run_id
        client.update_run(run_id, status="RUNNING")
        for key, value in tags.items():
            client.set_tag(run_id, key, value)
        return run_id, True
    run = client.create_run(
        experiment_id,
        tags={"mlflow.runName": study_name, tag("study"): study_name, tag("kind"): "study", **tags},
    )
    return str(run.info.run_id), False


def child_runs(client: Any, experiment_id: str, parent_run_id: str) -> Iterator[Any]:
    """Every run whose ``mlflow.parentRunId`` is the parent, page by page."""
    token = None
    while True:
        page = client.search_runs(
            [experiment_id],
            filter_string=f"tags.`{PARENT_TAG}` = '{parent_run_id}'",
            max_results=1000,
            page_token=token,
        )
        yield from page
        token = page.token
        if not token:
            return


def logged_trials(client: Any, experiment_id: str, parent_run_id: str) -> dict[int, str]:
    """Trial number -> child run id of the trials already logged under a parent."""
    return {
        int(run.data.tags[tag("trial")]): str(run.info.run_id)
        for run in child_runs(client, experiment_id, parent_run_id)
        if tag("trial") in run.data.tags
    }


class TrialLogger:
    """Writes finished trials as child runs of one parent run."""

    def __init__(self, parent_run_id: str, metric: str, study_name: str,
                 client: Any = None, experiment_id: str | None = None) -> None:  # fmt: skip
        from mlflow import MlflowClient

        self.client = client or MlflowClient()
        self.parent_run_id, self.metric, self.study_name = parent_run_id, metric, study_name
        self.experiment_id = experiment_id or self.client.get_run(parent_run_id).info.experiment_id

    def after_trial(self, _study: Any, trial: Any) -> None:
        """An Optuna callback (for workers that log their own trials)."""
        self.log_trial(trial)

    def log_trial(self, trial: Any) -> str:
        """Log a finished ``FrozenTrial``; return its run id."""
        from mlflow.entities import Metric, Param
        from optuna.distributions import distribution_to_json

        state = trial.state.name
        start = _ms(trial.datetime_start)
        end = _ms(trial.datetime_complete) or start
        tags = {
            PARENT_TAG: self.parent_run_id,
            "mlflow.runName": f"{self.study_name}-trial-{trial.number}",
            tag("study"): self.study_name,
            tag("kind"): "trial",
            tag("trial"): str(trial.number),
            tag("state"): state.lower(),
            tag("metric_name"): self.metric,
        }
        # what a kernel that cannot read the storage needs to rebuild the trial (kubernetes)
        typed = _json({k: v for k, v in trial.params.items()})
        spaces = _json({k: distribution_to_json(d) for k, d in trial.distributions.items()})
        if typed and spaces:
            tags[tag("params")], tags[tag("distributions")] = typed, spaces
        error = trial.system_attrs.get(st.ERROR_ATTR)
        if state == "FAIL":
            tags[tag("error")] = error or "the trial failed (no value or an invalid one)"
        run = self.client.create_run(self.experiment_id, start_time=start, tags=tags)
        run_id = str(run.info.run_id)
        params = [Param(k, str(v)[:6000]) for k, v in trial.params.items()]
        metrics = [
            Metric(self.metric, float(v), start + 1 + int(step), int(step))
            for step, v in sorted(trial.intermediate_values.items())
        ]
        # a pruned trial's value is its last intermediate value (Optuna's), already a step
        if trial.value is not None and state == "COMPLETE":
            last = max(trial.intermediate_values, default=-1)
            metrics.append(Metric(self.metric, float(trial.value), end, int(last) + 1))
        if trial.datetime_start and trial.datetime_complete:
            duration = (trial.datetime_complete - trial.datetime_start).total_seconds()
            metrics.append(Metric(DURATION_METRIC, duration, end, 0))
        # one batch when it fits MLflow's limits (the usual case): 3 calls per trial in all
        first_params, first_metrics = params[:_MAX_PARAMS], metrics[: _MAX_METRICS - _MAX_PARAMS]
        self.client.log_batch(run_id, params=first_params, metrics=first_metrics, synchronous=True)
        for i in range(_MAX_PARAMS, len(params), _MAX_PARAMS):
            self.client.log_batch(run_id, params=params[i : i + _MAX_PARAMS], synchronous=True)
        rest = metrics[len(first_metrics) :]
        for i in range(0, len(rest), _MAX_METRICS):
            self.client.log_batch(run_id, metrics=rest[i : i + _MAX_METRICS], synchronous=True)
        terminate(self.client, run_id, STATUS.get(state, "FAILED"), end)
        return run_id

    def stop_requested(self) -> bool:
        """Whether the kernel asked to stop (a tag of the parent run: pods cannot be signalled
        through a storage the kernel does not reach)."""
        tags = self.client.get_run(self.parent_run_id).data.tags
        return bool(tags.get(tag("stop")) == "true")


def log_best(client: Any, parent_run_id: str, metric: str, *, value: float, trial: int,
             run_id: str) -> None:  # fmt: skip
    """The parent run's best trial, its run and value: one request (the MLflow server's time
    comes out of the trials' cores)."""
    from mlflow.entities import Metric, RunTag
    from mlflow.utils.time import get_current_time_millis

    tags = [RunTag(tag("best_trial"), str(trial)), RunTag(tag("best_run_id"), run_id)]
    point = Metric(metric, value, get_current_time_millis(), trial)
    client.log_batch(parent_run_id, metrics=[point], tags=tags, synchronous=True)


def trial_runs(client: Any, experiment_id: str, parent_run_id: str) -> list[tuple[str, Any]]:
    """(run id, trial) of every finished trial logged under a parent; the trial as much of a
    ``FrozenTrial`` as progress needs (number, state, value, params, system_attrs)."""
    from optuna.trial import TrialState

    found = []
    for run in child_runs(client, experiment_id, parent_run_id):
        tags = run.data.tags
        # a run still RUNNING is being written by its pod: its value may not be there yet
        if tag("trial") not in tags or run.info.status == "RUNNING":
            continue
        state = TrialState[{"fail": "FAIL"}.get(tags[tag("state")], tags[tag("state")].upper())]
        metric = tags.get(tag("metric_name"), "")
        value = run.data.metrics.get(metric) if state == TrialState.COMPLETE else None
        trial = SimpleNamespace(
            number=int(tags[tag("trial")]),
            state=state,
            value=value,
            params=json.loads(tags.get(tag("params"), "{}")),
            distributions=json.loads(tags.get(tag("distributions"), "{}")),
            system_attrs={st.ERROR_ATTR: tags.get(tag("error"))},
        )
        found.append((str(run.info.run_id), trial))
    return found


def add_to_study(study: Any, trial: Any) -> None:
    """Add a trial rebuilt from its run to an in-memory study (for the plots); one whose
    parameters did not fit in tags only counts, it is not plotted."""
    import optuna
    from optuna.distributions import json_to_distribution

    if trial.state not in (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED):
        return
    if not trial.distributions and trial.params:
        return
    with contextlib.suppress(ValueError, TypeError):  # NaN...: counted, not plotted
        study.add_trial(
            optuna.trial.create_trial(
                state=trial.state,
                value=trial.value,
                params=trial.params,
                distributions={k: json_to_distribution(v) for k, v in trial.distributions.items()},
                user_attrs={"trial_number": trial.number},
            )
        )


def _json(value: dict[str, Any]) -> str:
    """JSON that fits a tag (8,000 characters), else ''."""
    try:
        text = json.dumps(value)
    except (TypeError, ValueError):
        return ""
    return text if len(text) <= 8000 else ""


def terminate(client: Any, run_id: str, status: str, end_time: int | None = None) -> None:
    """End a run at ``end_time``. The store's call, because ``set_terminated`` also fetches the
    run again to print its URL to stdout: an extra call and two lines in the cell per trial."""
    from mlflow.entities import RunStatus
    from mlflow.utils.time import get_current_time_millis

    store = getattr(getattr(client, "_tracking_client", None), "store", None)
    if store is None:
        client.set_terminated(run_id, status=status, end_time=end_time)
        return
    store.update_run_info(
        run_id,
        run_status=RunStatus.from_string(status),
        end_time=end_time or get_current_time_millis(),
        run_name=None,
    )


def _ms(when: Any) -> int:
    return int(when.timestamp() * 1000) if when is not None else 0
