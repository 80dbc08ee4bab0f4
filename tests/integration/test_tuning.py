"""Tuning studies on the real platform (MLflow server + Spark Connect) with real Optuna: 20
trials in local processes and on Spark executors, each trial a child run of its study's run
(none orphaned), pruned and failed trials marked; resume and new; stop and timeout; register a
re-fitted best trial; bad input as one line."""

from __future__ import annotations

import sys
import time

import cloudpickle
import optuna
import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, MLPlatError
from jupyter_mlplat.tuning import TuningSpec, start, tune

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

# the objectives travel by value, as a notebook's do (not importable in the workers)
cloudpickle.register_pickle_by_value(sys.modules[__name__])

TAG = "mlplat.tuning."


def quadratic(trial):
    """Pruned when the first steps look bad, fails for x in [8, 10), else (x - 2)^2."""
    x = trial.suggest_float("x", -10, 10)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    for step in range(4):
        trial.report((x - 2) ** 2 + (4 - step), step)
        if trial.should_prune():
            raise optuna.TrialPruned()
    if x >= 8:
        raise ValueError(f"x={x:.2f} is out of range")
    time.sleep(0.05)
    return (x - 2) ** 2 + (0.5 if kind == "b" else 0.0)


def slow(trial):
    trial.suggest_int("n", 0, 10)
    time.sleep(0.6)
    return 1.0


def always_fails(trial):
    trial.suggest_int("n", 0, 10)
    raise RuntimeError("the data is gone")


def iris_model(trial):
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True)
    model = LogisticRegression(C=trial.suggest_float("C", 0.01, 10, log=True), max_iter=300)
    model.fit(X, y)
    return model.score(X, y)


def forget_active_experiment(monkeypatch):
    """Other test files of the session leave an active experiment (``mlflow.set_experiment``)
    and tracking URI (``mlflow.set_tracking_uri``) in this process; a study, like a kernel's,
    would go there instead of the configured server and experiment."""
    import mlflow.tracking._tracking_service.utils as tracking_utils
    import mlflow.tracking.fluent

    monkeypatch.setattr(mlflow.tracking.fluent, "_active_experiment_id", None)
    monkeypatch.setattr(tracking_utils, "_tracking_uri", None)  # MLFLOW_TRACKING_URI rules


@pytest.fixture
def config(platform, tmp_path, monkeypatch, request):
    """The platform's MLflow, an experiment of this test's own, journal files in tmp_path."""
    monkeypatch.setenv("MLFLOW_TRACKING_URI", platform.tracking_uri)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_NAME", raising=False)
    monkeypatch.delenv("MLFLOW_EXPERIMENT_ID", raising=False)
    forget_active_experiment(monkeypatch)
    return MLPlat(
        env={
            "MLP_TRACKING_URI": platform.tracking_uri,
            "MLP_USER": "ada",
            "MLP_EXPERIMENT": f"/Users/ada/tuning-{request.node.name}",
            "MLP_TUNING_DIR": str(tmp_path / "studies"),
        }
    )


@pytest.fixture(scope="module")
def spark(platform):
    from pyspark.sql import SparkSession

    session = SparkSession.builder.remote(platform.runtime["spark_remote"]).getOrCreate()
    yield session
    session.stop()


def trial_runs(client, result):
    """Every trial run of the experiment of ``result``'s study (whatever its parent)."""
    parent = client.get_run(result.parent_run_id)
    return parent, client.search_runs(
        [parent.info.experiment_id],
        filter_string=f"tags.`{TAG}kind` = 'trial' and tags.`{TAG}study` = '{result.study_name}'",
        max_results=1000,
    )


def check_study(client, result, trials, storage="journal"):
    """One parent run, ``trials`` children pointing at it, states and values as Optuna has them."""
    parent, children = trial_runs(client, result)
    assert parent.data.tags[f"{TAG}kind"] == "study"
    assert parent.data.tags[f"{TAG}study"] == result.study_name
    assert parent.data.tags[f"{TAG}storage"] == storage
    assert parent.data.tags[f"{TAG}direction"] == "minimize"
    assert parent.info.status == "FINISHED"
    assert len(children) == trials
    assert {r.data.tags["mlflow.parentRunId"] for r in children} == {result.parent_run_id}
    numbers = sorted(int(r.data.tags[f"{TAG}trial"]) for r in children)
    assert numbers == list(range(numbers[0], numbers[0] + trials))
    by_state = {}
    for run in children:
        state = run.data.tags[f"{TAG}state"]
        by_state.setdefault(state, []).append(run)
        status = {"complete": "FINISHED", "pruned": "KILLED", "fail": "FAILED"}[state]
        assert run.info.status == status
        assert "x" in run.data.params and "kind" in run.data.params
        assert run.info.end_time >= run.info.start_time
        if state == "complete":
            assert "value" in run.data.metrics and "trial_duration_s" in run.data.metrics
        if state == "fail":
            assert run.data.tags[f"{TAG}error"].startswith("ValueError: x=")
    progress = result.progress
    assert len(by_state.get("complete", [])) == progress.complete
    assert len(by_state.get("pruned", [])) == progress.pruned
    assert len(by_state.get("fail", [])) == progress.failed
    assert progress.complete + progress.pruned + progress.failed == trials
    best = client.get_run(result.best_run_id)
    assert best.data.metrics["value"] == pytest.approx(result.best_value)
    assert best.data.tags[f"{TAG}trial"] == str(result.best_trial)
    # the pruned trials' intermediate values are step metrics
    for run in by_state.get("pruned", [])[:2]:
        history = client.get_metric_history(run.info.run_id, "value")
        assert history and all(m.step < 4 for m in history)
    return by_state


def test_local_parallel_study_resume_and_new(config, mlflow_client):
    seen = []
    result = tune(
        quadratic, trials=20, parallel="local", workers=2, config=config, progress=seen.append
    )
    by_state = check_study(mlflow_client, result, 20)
    assert by_state.get("pruned"), "the median pruner pruned nothing in 20 trials"
    assert seen[-1].finished and seen[-1].complete == result.progress.complete
    assert len(result.progress.history) == 20
    study_name, parent = result.study_name, result.parent_run_id
    assert study_name == "tuning-test_local_parallel_study_resume_and_new-quadratic"

    again = tune(quadratic, trials=5, parallel="local", workers=2, config=config)
    assert (again.study_name, again.parent_run_id) == (study_name, parent)
    _, children = trial_runs(mlflow_client, again)
    assert len(children) == 25 and len(again.progress.history) == 25
    assert again.progress.complete + again.progress.pruned + again.progress.failed == 5

    fresh = tune(quadratic, trials=3, parallel="local", workers=2, new=True, config=config)
    assert fresh.study_name == study_name and fresh.parent_run_id != parent
    assert len(fresh.progress.history) == 3
    assert len(mlflow_client.search_runs(
        [mlflow_client.get_run(parent).info.experiment_id],
        filter_string=f"tags.mlflow.parentRunId = '{fresh.parent_run_id}'",
    )) == 3  # fmt: skip


def test_spark_study(config, mlflow_client, spark):
    result = tune(quadratic, trials=20, parallel="spark", spark=spark, config=config)
    check_study(mlflow_client, result, 20)
    parent = mlflow_client.get_run(result.parent_run_id)
    assert parent.data.tags[f"{TAG}parallel"] == "spark"


def test_local_workers_share_one_budget_on_postgresql(postgres_url, tmp_path):
    """Worker processes pull trials under an advisory lock: exactly the budget, resumable."""
    from jupyter_mlplat.tuning import launch as ln
    from jupyter_mlplat.tuning import storage as st

    assert st.shares_budget(postgres_url)
    study = st.prepare_study(postgres_url, "pull-pg", "minimize", "median", new=True)
    for until in (7, 12):
        launch = ln.Launch(
            url=postgres_url, study_name="pull-pg", objective=quadratic, trials=until,
            workers=3, deadline=None, pruner="median", folder=tmp_path, until=until,
        )  # fmt: skip
        ln.run_processes(launch, ln.pickled(quadratic))
        assert len(study.get_trials(deepcopy=False)) == until


def test_register_best_trial(config, mlflow_client):
    result = tune(
        iris_model, trials=4, parallel="none", direction="maximize", register="tuned-iris",
        config=config,
    )  # fmt: skip
    assert result.model_version is not None
    version = mlflow_client.get_model_version("tuned-iris", result.model_version)
    assert version.tags[f"{TAG}study"] == result.study_name
    assert version.tags[f"{TAG}parent_run_id"] == result.parent_run_id
    assert version.tags[f"{TAG}trial"] == str(result.best_trial)
    assert version.tags[f"{TAG}trial_run_id"] == result.best_run_id
    assert version.run_id == result.best_run_id


def test_register_without_a_model_is_one_line(config):
    run = start(slow, TuningSpec(trials=1, parallel="none", register="nothing"), config=config)
    with pytest.raises(MLPlatError, match="logged no model"):
        run.wait(120)


def test_stop_and_timeout(config, mlflow_client):
    run = start(slow, TuningSpec(trials=30, parallel="local", workers=2), config=config)
    deadline = time.monotonic() + 60
    while run.progress().complete < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    run.stop()
    result = run.wait(60)
    progress = result.progress
    assert progress.stopped and progress.finished and progress.running == 0
    assert 2 <= progress.complete < 30
    _, children = trial_runs(mlflow_client, result)
    assert len(children) == progress.complete

    began = time.monotonic()
    timed = tune(slow, trials=100, parallel="none", timeout=2, study_name="timed", config=config)
    assert time.monotonic() - began < 20
    assert 1 <= timed.progress.complete < 10


def test_a_trial_pruned_at_its_last_step_logs_no_extra_step(mlflow_client):
    """Optuna gives a pruned trial its last intermediate value as its value: its run has the
    reported steps only, where a completed trial's value follows its steps."""
    from jupyter_mlplat.tuning.runs import TrialLogger

    def reports(trial):
        for step in range(3):
            trial.report(10.0 - step, step)
        if trial.number == 0:
            raise optuna.TrialPruned()  # pruned after its last report
        return 1.5

    study = optuna.create_study()
    study.optimize(reports, n_trials=2)
    pruned, complete = study.get_trials(deepcopy=False)
    assert pruned.state.name == "PRUNED" and pruned.value == 8.0  # Optuna's, not ours
    experiment = mlflow_client.create_experiment(f"pruned-steps-{time.time_ns()}")
    parent = mlflow_client.create_run(experiment).info.run_id
    logger = TrialLogger(parent, "value", "pruned-steps", client=mlflow_client,
                         experiment_id=experiment)  # fmt: skip

    def steps(trial):  # type: ignore[no-untyped-def]
        history = mlflow_client.get_metric_history(logger.log_trial(trial), "value")
        return sorted((m.step, m.value) for m in history)

    assert steps(pruned) == [(0, 10.0), (1, 9.0), (2, 8.0)]
    assert steps(complete) == [(0, 10.0), (1, 9.0), (2, 8.0), (3, 1.5)]


def test_failing_objective_fails_trials_not_the_study(config, mlflow_client):
    run = start(always_fails, TuningSpec(trials=3, parallel="local", workers=2), config=config)
    with pytest.raises(MLPlatError, match=r"no trial .* completed .*3 failed.*RuntimeError: the"):
        run.wait(120)
    progress = run.progress()
    assert progress.failed == 3 and progress.finished and progress.error
    runs = mlflow_client.search_runs(
        [run.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{run.parent_run_id}'"
    )
    assert [r.info.status for r in runs] == ["FAILED"] * 3
    assert mlflow_client.get_run(run.parent_run_id).info.status == "FAILED"


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        (dict(trials=0), "trials must be a positive"),
        (dict(trials=3, timeout=-1), "timeout must be a positive"),
        (dict(trials=3, parallel="gpu"), "parallel must be one of"),
        (dict(trials=3, direction="up"), "direction must be one of"),
    ],
)
def test_bad_input_is_one_line(config, spec, message):
    with pytest.raises(InvalidInput, match=message):
        tune(quadratic, config=config, **spec)


def test_unpicklable_objective_needs_none(config):
    import threading

    lock = threading.Lock()

    def holds_a_lock(trial):
        with lock:
            return trial.suggest_float("x", 0, 1)

    with pytest.raises(InvalidInput, match="cannot be sent to trial workers"):
        tune(holds_a_lock, trials=2, parallel="local", config=config)
    assert tune(holds_a_lock, trials=2, parallel="none", config=config).best_value < 1
