"""``%%mlp tune`` through a real IPython shell: options, the objective convention, one-line
errors before anything runs, help; the engine replaced by a recording fake."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

import jupyter_mlplat.tuning
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.kernel.commands import tune
from jupyter_mlplat.kernel.magics import MLPMagics
from tests.unit.test_tuning_view import FakeRun, snapshots, study_with

OBJECTIVE = """ran_the_cell = True
def objective(trial):
    return trial.suggest_float('x', 0, 1)
"""


@pytest.fixture
def shell(ipython_shell):
    ip = ipython_shell
    ip.register_magics(MLPMagics(ip, config=MLPlat(env={"MLP_USER": "ada"})))
    for name in ("objective", "ran_the_cell", tune.HANDLE):
        ip.user_ns.pop(name, None)
    return ip


@pytest.fixture
def started(monkeypatch):
    """``tuning.start`` replaced: records its arguments, returns a fake run that ends at once."""
    calls = []

    class Spec:
        def __init__(self, **kwargs):
            self.__dict__.update(kwargs)

        def validated(self):
            return self

    def start(objective, spec, config, spark=None):
        calls.append((objective, spec, config, spark))
        return FakeRun(snapshots(), study_with([1.0, 2.0]))

    monkeypatch.setattr(jupyter_mlplat.tuning, "TuningSpec", Spec, raising=False)
    monkeypatch.setattr(jupyter_mlplat.tuning, "start", start, raising=False)
    return calls


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("tune", "the following arguments are required: --trials"),
        ("tune --trials 0", "argument --trials: must be at least 1, not 0"),
        ("tune --trials many", "argument --trials: a whole number is needed, not 'many'"),
        ("tune --trials 5 --timeout -3", "argument --timeout: must be more than 0 seconds, not -3"),
        ("tune --trials 5 --timeout 0", "must be more than 0 seconds"),
        ("tune --trials 5 --workers 0", "argument --workers: must be at least 1"),
        ("tune --trials 5 --parallel gpu", "invalid choice: 'gpu'"),
        ("tune --trials 5 --direction up", "invalid choice: 'up'"),
        ("tune --trials 5 --name 'bad name'", "tune: study name 'bad name': use letters"),
        ("tune --trials 5 --metric 'a;b'", "metric 'a;b' is not a valid MLflow metric name"),
    ],
)
def test_bad_options_are_one_line_and_run_nothing(shell, line, message):
    with pytest.raises(UsageError, match=message) as err:
        shell.run_cell_magic("mlp", line, OBJECTIVE)
    assert "\n" not in str(err.value)
    assert "ran_the_cell" not in shell.user_ns  # the cell did not run


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("\n  \n", "needs a cell body"),
        ("x = 1", "does not define objective"),
        ("objective = 3", "objective is a int, not a function"),
        ("def objective():\n    return 1", "must take one argument, the trial"),
        ("def objective(trial, data):\n    return 1", "must take one argument, the trial"),
    ],
)
def test_the_cell_must_define_an_objective_of_one_trial(shell, started, cell, message):
    with pytest.raises(UsageError, match=message) as err:
        shell.run_cell_magic("mlp", "tune --trials 3", cell)
    assert "\n" not in str(err.value) and not started


def test_the_line_magic_asks_for_the_cell(shell, started):
    with pytest.raises(UsageError, match="needs a cell body: %%mlp tune --trials N on a cell"):
        shell.run_line_magic("mlp", "tune --trials 3")


def test_an_objective_left_by_an_earlier_cell_does_not_count(shell, started):
    shell.run_cell(OBJECTIVE)
    with pytest.raises(UsageError, match="does not define objective"):
        shell.run_cell_magic("mlp", "tune --trials 3", "y = 2")
    assert not started


def test_the_cell_runs_in_the_notebook_namespace_and_starts_the_study(shell, started):
    shell.run_cell("offset = 10")
    cell = "def objective(trial):\n    return offset + trial.suggest_int('k', 1, 3)\n"
    args = "tune --trials 12 --parallel none --direction maximize --metric acc --name s1 --new"
    assert shell.run_cell_magic("mlp", f"{args} --register iris --pruner none --wait", cell) is None
    (objective, spec, config, spark) = started[0]
    assert objective is shell.user_ns["objective"] and spark is None
    assert config.user == "ada"
    assert spec.__dict__ == {
        "trials": 12,
        "parallel": "none",
        "workers": None,
        "timeout": None,
        "direction": "maximize",
        "metric": "acc",
        "study_name": "s1",
        "new": True,
        "pruner": "none",
        "register": "iris",
    }
    run = shell.user_ns[tune.HANDLE]
    assert run.done and run.polls >= 1


def test_optuna_info_lines_of_the_study_threads_stay_out_of_the_cell(shell, started):
    import logging

    shell.run_cell_magic("mlp", "tune --trials 4 --wait", OBJECTIVE)
    handlers = logging.getLogger("optuna").handlers
    assert handlers

    def kept(level, thread):
        record = logging.LogRecord("optuna.study", level, __file__, 1, "x", None, None)
        record.threadName = thread
        return all(h.filter(record) for h in handlers)

    assert not kept(logging.INFO, "mlplat-tune-workers-iris")
    assert kept(logging.WARNING, "mlplat-tune-workers-iris")
    assert kept(logging.INFO, "MainThread")  # the user's own studies still say what they do
    shell.run_cell_magic("mlp", "tune --trials 4 --wait", OBJECTIVE)
    assert sum(len(h.filters) for h in handlers) == len(handlers)  # added once


def test_defaults_are_local_parallel_median_pruner_minimize(shell, started):
    shell.run_cell_magic("mlp", "tune --trials 4 --timeout 2.5 --workers 2 --wait", OBJECTIVE)
    spec = started[0][1]
    assert (spec.parallel, spec.pruner, spec.direction, spec.metric) == (
        "local",
        "median",
        "minimize",
        "value",
    )
    assert (spec.timeout, spec.workers, spec.new, spec.register) == (2.5, 2, False, None)


def test_a_running_study_must_be_stopped_before_the_next(shell, started):
    running = FakeRun(snapshots() * 100)
    shell.user_ns[tune.HANDLE] = running
    with pytest.raises(UsageError, match="study 'iris' is still running in this kernel"):
        shell.run_cell_magic("mlp", "tune --trials 3", OBJECTIVE)
    assert not started
    running.stop()
    shell.run_cell_magic("mlp", "tune --trials 3 --wait", OBJECTIVE)
    assert len(started) == 1


def test_spark_mode_needs_a_spark_session_before_the_cell_runs(shell, started):
    with pytest.raises(UsageError, match="no Spark Connect endpoint is configured"):
        shell.run_cell_magic("mlp", "tune --trials 3 --parallel spark", OBJECTIVE)
    assert not started and "ran_the_cell" not in shell.user_ns


def test_help_explains_the_options_and_the_objective(shell, capsys):
    shell.run_line_magic("mlp", "help tune")
    out = capsys.readouterr().out
    assert out.startswith("usage: %%mlp tune") and "--trials TRIALS" in out
    for text in ("--parallel {local,spark,kubernetes,none}", "--register MODEL", "--wait"):
        assert text in out
    assert "def objective(trial)" in out and "trial.suggest_float" in out
    assert "_mlp_tune" in out and "returns at once" in out and "--new" in out
