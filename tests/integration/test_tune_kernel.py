"""``%%mlp tune`` in real kernels of the real lab server against the platform's MLflow: a
sequential study to its end (the live view's widgets and its text, one child run per trial), local
parallel trials, a study left running in the background then stopped, a ``--wait`` study stopped
by a kernel interrupt, and bad input as one line with the kernel alive."""

from __future__ import annotations

import json
import threading
import time

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.timeout(1200)]

WIDGET = "application/vnd.jupyter.widget-view+json"
QUADRATIC = """
import time
def objective(trial):
    x = trial.suggest_float("x", -5, 5)
    kind = trial.suggest_categorical("kind", ["a", "b"])
    time.sleep(PAUSE)
    return (x - 2) ** 2 + (0.5 if kind == "b" else 0.0)
"""


@pytest.fixture(scope="module")
def kernel(lab, platform):
    (platform.notebook_dir / "tuning").mkdir(exist_ok=True)
    kernel_id = lab.start_session("tuning/tune.ipynb")
    with lab.kernel(kernel_id) as connection:
        connection.kernel_id = kernel_id
        run_ok(connection, "PAUSE = 0.0")
        yield connection


def run_ok(kernel, code, timeout=600):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error and result.error["traceback"])
    return result


def printed(kernel, expression):
    """The JSON of ``expression`` printed by the kernel (MLflow's own lines may surround it)."""
    out = run_ok(kernel, f"import json as _json\nprint('@@' + _json.dumps({expression}))").stdout
    return json.loads(next(line[2:] for line in out.splitlines() if line.startswith("@@")))


RESULT = (
    "(lambda r, p: dict(study=r.study_name, parent=r.parent_run_id, best_trial=r.best_trial, "
    "best_value=r.best_value, best_params=r.best_params, best_run=r.best_run_id, "
    "complete=p.complete, pruned=p.pruned, failed=p.failed, stopped=p.stopped, "
    "finished=p.finished, experiment=_mlp_tune.experiment_id))"
    "(_mlp_tune.wait(), _mlp_tune.progress())"
)


def texts(result):
    """The ``text/plain`` of every display and display update of the cell."""
    return [str(t) for t in result.data("text/plain")]


def children(mlflow_client, experiment, parent):
    return mlflow_client.search_runs(
        [experiment], filter_string=f"tags.mlflow.parentRunId = '{parent}'", max_results=500
    )


def test_a_sequential_study_to_its_end(kernel, mlflow_client):
    cell = "%%mlp tune --trials 6 --parallel none --wait --name quad --new --metric loss\n"
    result = run_ok(kernel, cell + QUADRATIC)
    assert result.data(WIDGET), "the live view is a widget"
    assert "A new study created" not in result.stderr  # the view says it, not Optuna's log
    assert "finished with value" not in result.stderr
    final = texts(result)[-1]  # the display updated at the end: what nbconvert keeps
    assert final.startswith("study quad · finished"), final
    assert "6/6 trials done · 0 running · 0 pruned · 0 failed" in final
    assert "best loss" in final and "parent run: /mlplat/mlflow/#/experiments/" in final
    buffers = [b for m in result.messages for b in m.get("buffers", [])]
    assert any(b.startswith(b"\x89PNG") for b in buffers), "the plots reach the frontend"
    summary = printed(kernel, RESULT)
    assert summary["study"] == "quad" and summary["complete"] == 6 and summary["finished"]
    assert summary["best_value"] >= 0 and set(summary["best_params"]) == {"x", "kind"}
    runs = children(mlflow_client, summary["experiment"], summary["parent"])
    assert len(runs) == 6
    assert summary["best_run"] in {r.info.run_id for r in runs}


def test_register_makes_a_version_of_the_best_trial(kernel, mlflow_client):
    cell = (
        "%%mlp tune --trials 4 --parallel none --wait --name ridge --new --metric r2 "
        "--direction maximize --register tuned-ridge\n"
        "from sklearn.datasets import load_diabetes\n"
        "from sklearn.linear_model import Ridge\n"
        "X, y = load_diabetes(return_X_y=True)\n"
        "def objective(trial):\n"
        "    alpha = trial.suggest_float('alpha', 1e-3, 10, log=True)\n"
        "    return Ridge(alpha=alpha).fit(X, y).score(X, y)\n"
    )
    final = texts(run_ok(kernel, cell))[-1]
    assert "registered: tuned-ridge version 1" in final, final
    summary = printed(kernel, RESULT)
    assert mlflow_client.get_model_version("tuned-ridge", "1").run_id == summary["best_run"]


def test_local_parallel_trials(kernel, mlflow_client):
    run_ok(kernel, "PAUSE = 0.3")
    cell = "%%mlp tune --trials 8 --parallel local --workers 2 --wait --name quad-local --new\n"
    result = run_ok(kernel, cell + QUADRATIC)
    assert "8/8 trials done" in texts(result)[-1]
    summary = printed(kernel, RESULT)
    assert summary["complete"] == 8
    assert len(children(mlflow_client, summary["experiment"], summary["parent"])) == 8


def test_the_cell_returns_at_once_and_the_study_stops_from_the_handle(kernel):
    run_ok(kernel, "PAUSE = 0.3")
    started = time.monotonic()
    result = run_ok(
        kernel, "%%mlp tune --trials 200 --parallel none --name slow --new\n" + QUADRATIC
    )
    assert time.monotonic() - started < 30  # not 200 x 0.3 s
    assert result.data(WIDGET) and texts(result)[0].startswith("study slow")
    assert printed(kernel, "_mlp_tune.done") is False
    line = one_line_error(kernel, "%%mlp tune --trials 3 --parallel none\n" + QUADRATIC)
    assert "study 'slow' is still running in this kernel" in line
    run_ok(kernel, "time.sleep(2)\n_mlp_tune.stop()")
    summary = printed(kernel, RESULT)
    assert summary["stopped"] and summary["finished"] and 1 <= summary["complete"] < 200


def test_a_waiting_study_stops_cleanly_on_a_kernel_interrupt(kernel, lab):
    run_ok(kernel, "PAUSE = 0.3")

    def interrupt():
        time.sleep(6)
        lab.api("POST", f"api/kernels/{kernel.kernel_id}/interrupt").raise_for_status()

    threading.Thread(target=interrupt, daemon=True).start()
    cell = "%%mlp tune --trials 500 --parallel none --wait --name interrupted --new\n"
    result = run_ok(kernel, cell + QUADRATIC)  # the interrupt ends the study, not the cell
    assert texts(result)[-1].startswith("study interrupted · stopped"), texts(result)[-1]
    summary = printed(kernel, RESULT)
    assert summary["stopped"] and 1 <= summary["complete"] < 500


def one_line_error(kernel, code):
    result = kernel.execute(code, timeout=120)
    assert result.status == "error", result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("UsageError: %"), result.stderr
    return lines[0]


@pytest.mark.parametrize(
    ("cell", "message"),
    [
        ("%%mlp tune --trials 0\n" + QUADRATIC, "argument --trials: must be at least 1, not 0"),
        ("%%mlp tune --trials 3 --timeout -1\n" + QUADRATIC, "must be more than 0 seconds"),
        ("%%mlp tune --trials 3 --parallel none\nx = 1", "does not define objective(trial)"),
        ("%%mlp tune --trials 3 --name 'bad name'\n" + QUADRATIC, "study name 'bad name'"),
        (
            "%%mlp tune --trials 3 --parallel none --name quad --direction maximize\n" + QUADRATIC,
            "was created to minimize",
        ),
    ],
)
def test_bad_input_is_one_line_and_the_kernel_lives_on(kernel, cell, message):
    assert message in one_line_error(kernel, cell)
    assert run_ok(kernel, "print(6 * 7)").stdout.strip() == "42"


def test_a_failing_objective_fails_its_trials_not_the_study(kernel):
    cell = (
        "%%mlp tune --trials 4 --parallel none --wait --name flaky --new\n"
        "def objective(trial):\n"
        "    x = trial.suggest_int('x', 0, 3)\n"
        "    if trial.number % 2:\n"
        "        raise ValueError('odd trial')\n"
        "    return x\n"
    )
    final = texts(run_ok(kernel, cell))[-1]
    assert "study flaky · finished" in final and "2 failed" in final
