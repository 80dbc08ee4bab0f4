"""The tuning view's logic with a fake run: texts, plots (real matplotlib, real Optuna trials),
polling, Stop, the end of a study and a ``--wait`` interrupted by Ctrl-C."""

from __future__ import annotations

import threading
from dataclasses import dataclass, field, replace
from typing import Any

import optuna
import pytest

from jupyter_mlplat.kernel import tuning_view
from jupyter_mlplat.kernel.tuning_view import (
    TuningView,
    best_line,
    best_so_far,
    counts_line,
    history_png,
    importance_png,
    importances,
    parallel_png,
    status,
    text_summary,
)

PNG = b"\x89PNG"
optuna.logging.set_verbosity(optuna.logging.WARNING)


@dataclass
class Progress:
    """The fields of ``tuning.TuningProgress`` the view reads."""

    total: int = 6
    complete: int = 0
    running: int = 0
    pruned: int = 0
    failed: int = 0
    best_value: float | None = None
    best_params: dict[str, Any] = field(default_factory=dict)
    best_trial: int | None = None
    history: list[tuple[int, float | None, str]] = field(default_factory=list)
    finished: bool = False
    stopped: bool = False
    error: str | None = None
    parent_run_id: str | None = "parent123"
    study_name: str = "iris"


@dataclass
class Result:
    model_version: str | None = None


class FakeRun:
    """A ``TuningRun`` that hands out prepared progress snapshots, one per poll."""

    def __init__(self, snapshots: list[Progress], study: Any = None) -> None:
        self.snapshots = snapshots
        self.study = study
        self.study_name = "iris"
        self.parent_run_id = "parent123"
        self.experiment_id = "7"
        self.stopped = threading.Event()
        self.polls = 0

    @property
    def done(self) -> bool:
        return self.stopped.is_set() or self.polls >= len(self.snapshots)

    def progress(self) -> Progress:
        snapshot = self.snapshots[min(self.polls, len(self.snapshots) - 1)]
        self.polls += 1
        if self.stopped.is_set():
            return replace(snapshot, stopped=True, finished=True, running=0)
        return snapshot

    def stop(self) -> None:
        self.stopped.set()

    def wait(self, timeout: float | None = None) -> Result:
        return Result("3")  # the engine gives the version number


def study_with(values: list[float], direction: str = "minimize") -> optuna.Study:
    study = optuna.create_study(direction=direction)
    for i, value in enumerate(values):
        study.add_trial(
            optuna.trial.create_trial(
                params={"x": float(i), "kind": "a" if i % 2 else "b"},
                distributions={
                    "x": optuna.distributions.FloatDistribution(0, 10),
                    "kind": optuna.distributions.CategoricalDistribution(["a", "b"]),
                },
                value=value,
            )
        )
    return study


def snapshots() -> list[Progress]:
    one = Progress(complete=1, running=2, best_value=3.0, best_params={"x": 1.5}, best_trial=0)
    one.history = [(0, 3.0, "COMPLETE")]
    same = replace(one, running=1)  # nothing new finished: no redraw
    two = replace(one, complete=2, pruned=1, best_value=1.0, best_trial=2, best_params={"x": 0.5})
    two.history = [(0, 3.0, "COMPLETE"), (1, 4.0, "PRUNED"), (2, 1.0, "COMPLETE")]
    end = replace(two, complete=5, pruned=1, running=0, finished=True)
    return [one, same, two, end]


# -- texts --------------------------------------------------------------------------------------
def test_lines_say_counts_best_and_state():
    p = Progress(complete=3, running=2, pruned=1, failed=1, best_value=0.25, best_trial=4)
    p.best_params = {"depth": 4, "kernel": "rbf", "lr": 0.0012345678}
    assert counts_line(p) == "5/6 trials done · 2 running · 1 pruned · 1 failed"
    assert best_line(p, "rmse") == "best rmse 0.25 (trial 4): depth=4, kernel='rbf', lr=0.00123457"
    assert best_line(Progress()) == "no complete trial yet"
    assert status(p) == "running" and status(p, stopping=True) == "stopping…"
    assert status(replace(p, finished=True)) == "finished"
    assert status(replace(p, finished=True, stopped=True)) == "stopped"
    assert status(replace(p, finished=True, error="boom")) == "failed"


def test_text_summary_is_the_plain_text_fallback():
    p = Progress(complete=6, best_value=1.0, best_trial=2, finished=True, error=None)
    text = text_summary(
        p,
        metric="loss",
        link="/mlplat/mlflow/#/x",
        seconds=12.4,
        result=Result("3"),
        register="iris",
    )
    assert text.splitlines()[0] == "study iris · finished · 12 s"
    assert "6/6 trials done" in text and "best loss 1 (trial 2)" in text
    assert "parent run: /mlplat/mlflow/#/x" in text and "registered: iris version 3" in text


def test_best_so_far_follows_the_direction():
    assert best_so_far([3, 4, 1, 2], "minimize") == [3, 3, 1, 1]
    assert best_so_far([3, 4, 1, 5], "maximize") == [3, 4, 4, 5]


# -- plots --------------------------------------------------------------------------------------
def test_history_png_draws_complete_and_pruned_trials():
    history = [(0, 3.0, "COMPLETE"), (1, 5.0, optuna.trial.TrialState.PRUNED), (2, None, "FAIL")]
    assert history_png(history, "minimize").startswith(PNG)
    assert history_png([(0, None, "RUNNING"), (1, None, "FAIL")], "minimize") is None


def test_parallel_coordinates_of_numeric_log_categorical_and_missing_params():
    dist = optuna.distributions
    trials = [
        optuna.trial.create_trial(
            params={"lr": lr, "kind": kind, **({"depth": 3} if kind == "tree" else {})},
            distributions={
                "lr": dist.FloatDistribution(1e-4, 1, log=True),
                "kind": dist.CategoricalDistribution(["tree", "linear"]),
                **({"depth": dist.IntDistribution(1, 8)} if kind == "tree" else {}),
            },
            value=value,
        )
        for lr, kind, value in [(1e-3, "tree", 0.3), (0.1, "linear", 0.2), (0.5, "tree", 0.9)]
    ]
    assert parallel_png(trials, "maximize", "acc").startswith(PNG)
    assert parallel_png(trials[:1], "maximize") is None  # one trial: no lines to compare
    log_scale = dist.FloatDistribution(1e-4, 1, log=True)
    positions, ticks = tuning_view._axis([1e-3, 0.1, 1e-1], log_scale)
    assert positions == [0.0, 1.0, 1.0] and ticks == [(0.0, "0.001"), (1.0, "0.1")]


def test_importances_need_two_complete_trials_and_a_parameter():
    assert "at least 2 complete trials" in importances(study_with([1.0]))
    no_params = optuna.create_study()
    for v in (1.0, 2.0):
        no_params.add_trial(optuna.trial.create_trial(params={}, distributions={}, value=v))
    assert "0 parameters" in importances(no_params)
    scores = importances(study_with([5.0, 4.0, 3.0, 2.0, 1.0]))
    assert isinstance(scores, dict) and set(scores) == {"x", "kind"}
    assert importance_png(scores).startswith(PNG)


# -- the view -----------------------------------------------------------------------------------
def test_view_follows_polls_and_redraws_the_plot_only_when_trials_finished(monkeypatch):
    drawn = []
    monkeypatch.setattr(
        tuning_view, "history_png", lambda history, *a: drawn.append(len(history)) or PNG
    )
    run = FakeRun(snapshots(), study_with([3.0, 1.0, 2.0, 2.5, 4.0]))
    view = TuningView(
        run, direction="minimize", metric="loss", base_path="/user/ada/", register="iris"
    )
    assert not view.refresh()
    assert view.counts.value == "&nbsp;1/6 trials done · 2 running · 0 pruned · 0 failed"
    assert "best loss 3 (trial 0): x=1.5" in view.best.value
    assert 'href="/user/ada/mlplat/mlflow/#/experiments/7/runs/parent123"' in view.title.value
    assert view.history.value == PNG and view.history.layout.display is None
    assert not view.refresh()
    assert not view.refresh()
    assert drawn == [1, 3]  # the second poll had no newly finished trial
    assert view.bar.value == 3 and view.bar.max == 6
    assert view.refresh()  # finished: the final plots and summary
    assert view.finished and view.result.model_version == "3"
    classes = [c._dom_classes for c in view.final.children]
    assert ("mlplat-tune-summary",) in classes
    images = view.final.children[0].children
    assert images[0]._dom_classes == ("mlplat-tune-parallel",)
    assert images[1]._dom_classes == ("mlplat-tune-importance",)
    assert bytes(images[1].value).startswith(PNG)
    assert (
        '<a href="/user/ada/mlplat/mlflow/#/models/iris/versions/3" target="_blank" '
        'rel="noopener">iris version 3</a>'
    ) in view.final.children[-1].value
    assert view.stop_button.layout.display == "none"  # nothing left to stop
    assert view.bar.bar_style == "success" and view.state.value == "finished"
    bundle = view._repr_mimebundle_()
    assert "application/vnd.jupyter.widget-view+json" in bundle
    assert bundle["text/plain"].startswith("study iris · finished")
    assert "registered: iris version 3" in bundle["text/plain"]


def test_stop_button_stops_the_run_then_says_stopped():
    run = FakeRun(snapshots() * 3, study_with([1.0]))  # one complete trial: importances noted
    view = TuningView(run)
    view.refresh()
    view.stop_button.click()
    assert run.stopped.is_set()
    assert view.stop_button.disabled and view.stop_button.description == "Stopping…"
    assert "stopping…" in view.title.value
    assert view.refresh()
    assert view.stop_button.description == "Stopped" and view.state.value == "stopped"
    assert view.bar.bar_style == "warning"
    assert "at least 2 complete trials" in view.final.children[0].children[-1].value


def test_display_follows_in_a_thread_until_the_end():
    run = FakeRun(snapshots(), study_with([1.0, 2.0]))
    view = TuningView(run, poll=0.01)
    view.display()
    assert view._thread is not None
    view._thread.join(10)
    assert view.finished and run.polls >= 4


def test_wait_stops_cleanly_on_ctrl_c(monkeypatch):
    run = FakeRun(snapshots() * 100, study_with([1.0, 2.0]))
    view = TuningView(run, wait=True, poll=0.01)
    assert view.stop_button not in view.box.children[3].children  # a busy kernel: no button
    assert "interrupt the kernel" in view.state.value
    sleeps = []

    def sleep(seconds):
        sleeps.append(seconds)
        if len(sleeps) == 2:
            raise KeyboardInterrupt  # the kernel's interrupt arrives mid-study

    monkeypatch.setattr(tuning_view.time, "sleep", sleep)
    result = view.wait()
    assert run.stopped.is_set() and result.model_version == "3"
    assert view.finished and view.text().startswith("study iris · stopped")


@pytest.mark.parametrize("error", ["storage is gone"])
def test_a_failed_study_shows_its_error(error):
    end = replace(snapshots()[-1], error=error)
    view = TuningView(FakeRun([end]))
    assert view.refresh()
    assert error in view.state.value and "failed" in view.title.value
    assert f"error: {error}" in view.text()
