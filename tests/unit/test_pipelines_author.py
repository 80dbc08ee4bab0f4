"""Pure logic of pipeline authoring: names, schedules, the DAG file a cell becomes, Airflow's
import error as one line, the feature config's checks, the live run table."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.kernel.commands.pipeline import STATE_COLOURS, RunView
from jupyter_mlplat.pipelines import project
from jupyter_mlplat.pipelines.runner import RunResult, _apply
from jupyter_mlplat.pipelines.templates import features

CELL = "import json\n\n@task\ndef one():\n    return 1\n\none()\n"


@pytest.mark.parametrize("name", ["", "1abc", "a-b", "a b", "x" * 101])
def test_bad_pipeline_names_are_refused(name):
    with pytest.raises(InvalidInput, match="invalid pipeline name"):
        project.pipeline_name(name)


@pytest.mark.parametrize(
    ("schedule", "code"),
    [
        (None, "None"),
        ("@daily", '"@daily"'),
        ("0 6 * * 1-5", '"0 6 * * 1-5"'),
        ("table:demo.iris", '[Asset(name="demo.iris", uri="mlplat://catalog/demo/iris")]'),
    ],
)
def test_schedules(schedule, code):
    assert project.schedule_code(schedule) == code


@pytest.mark.parametrize("schedule", ["@sometimes", "every day", "table:iris", "table:a.b-c"])
def test_bad_schedules_are_one_line(schedule):
    with pytest.raises(InvalidInput):
        project.schedule_code(schedule)


def test_a_cell_becomes_the_body_of_the_dag_function():
    text = project.cell_file_text("daily_rows", CELL, "@daily", "ada", "explore.ipynb")
    tree = ast.parse(text)  # the file is Python
    function = next(n for n in tree.body if isinstance(n, ast.FunctionDef))
    assert function.name == "daily_rows"
    assert [type(n).__name__ for n in function.body] == ["Import", "FunctionDef", "Expr"]
    assert '"owner": "ada"' in text and '"owner:ada"' in text and 'dag_id="daily_rows"' in text
    offset = project.cell_line_offset(text)
    assert text.splitlines()[offset + 2].strip() == "@task"  # cell line 3


def test_a_cell_without_tasks_is_refused():
    with pytest.raises(InvalidInput, match="no @task"):
        project.cell_file_text("p", "x = 1\n", None, "ada", "")
    with pytest.raises(InvalidInput, match="empty"):
        project.cell_file_text("p", "  \n", None, "ada", "")
    # a syntax error is left to Airflow's import, which reports it with its line
    assert "def broken(:" in project.cell_file_text("p", "@task\ndef broken(:\n", None, "a", "")


def test_import_error_is_one_line_with_file_line_and_cell_line(tmp_path):
    staging = tmp_path / "staging"
    message = (
        "Traceback (most recent call last):\n"
        f'  File "{staging}/p.py", line 40, in <module>\n'
        f'  File "{staging}/p.py", line 29, in p\n'
        "NameError: name 'oops' is not defined\n"
    )
    shown = tmp_path / "pipelines" / "p.py"
    line = project.import_error_line({"message": message}, shown, staging, cell_offset=24)
    assert line == f"{shown}:29 (cell line 5): NameError: name 'oops' is not defined"


def test_pipelines_dir_is_resolved_like_the_suites(tmp_path):
    (tmp_path / "pyproject.toml").write_text("")
    (tmp_path / "notebooks").mkdir()
    config = MLPlat(env={})
    assert project.pipelines_dir(config, tmp_path / "notebooks") == tmp_path / "pipelines"
    absolute = MLPlat(env={"MLP_PIPELINES_DIR": str(tmp_path / "dags")})
    assert project.pipelines_dir(absolute) == tmp_path / "dags"


RAW = {
    "template": "classification",
    "table": "demo.iris",
    "label": "species",
    "features": {"sepal_length_cm": ["impute_median", "standard"], "kind": "onehot"},
    "model": {"class": "sklearn.linear_model.LogisticRegression", "params": {"max_iter": 50}},
    "promote": {"metric": "f1_macro", "margin": 0.01},
    "registered_model": "iris",
}


def test_feature_config_round_trips_through_its_yaml(tmp_path):
    config = features.parse(RAW)
    path = tmp_path / "p.yaml"
    path.write_text(features.render(config, "test"))
    again = features.load(path)
    assert again.features == {"sepal_length_cm": ["impute_median", "standard"], "kind": ["onehot"]}
    assert (again.metric, again.margin, again.model_params) == ("f1_macro", 0.01, {"max_iter": 50})
    model = again.build_model()
    assert [name for name, _ in model.steps] == ["features", "model"]


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"template": "clustering"}, "template must be one of"),
        ({"table": "no such"}, "table:"),
        ({"label": ""}, "label"),
        ({"features": {"a": ["scale_it"]}}, "unknown transform 'scale_it'"),
        ({"features": {"species": ["standard"]}}, "label cannot be a feature"),
        ({"model": {"class": "sklearn.nothing.Here"}}, "cannot import"),
        ({"promote": {"metric": "rmse"}}, "not a classification metric"),
        ({"holdout": 0.9}, "holdout"),
        ({"tuning": {"trials": -1}}, "tuning.trials"),
        ({"tuning": {"trials": 5}}, "name at least one model param"),
        ({"tuning": {"trials": 5, "search": {"C": [1, 0.1]}}}, "low must be below high"),
        ({"tuning": {"trials": 5, "search": {"C": [0, 1, "log"]}}}, "above 0 on a log scale"),
        ({"tuning": {"trials": 5, "search": {"C": "big"}}}, "tuning.search.C: use [low, high]"),
        ({"tuning": {"parallel": "gpu"}}, "tuning.parallel must be one of"),
    ],
)
def test_feature_config_mistakes_are_one_line(change, message):
    with pytest.raises(InvalidInput, match="feature config: ") as err:
        features.parse(RAW | change)
    assert message in str(err.value) and "\n" not in str(err.value)


def test_tuning_search_space_draws_each_param_from_an_optuna_trial(tmp_path):
    import optuna

    search = {"C": [0.01, 100.0, "log"], "max_iter": [50, 500], "solver": {"choices": ["lbfgs"]}}
    config = features.parse(RAW | {"tuning": {"trials": 4, "parallel": "none", "search": search}})
    path = tmp_path / "p.yaml"
    path.write_text(features.render(config, "test"))
    again = features.load(path)
    assert (again.tuning_trials, again.tuning_parallel, again.search) == (4, "none", search)
    params = again.suggest(optuna.trial.FixedTrial({"C": 2.5, "max_iter": 80, "solver": "lbfgs"}))
    assert params == {"C": 2.5, "max_iter": 80, "solver": "lbfgs"}  # max_iter: 50 was replaced
    assert again.build_model(params).steps[-1][1].C == 2.5


def test_promotion_respects_direction_and_margin():
    classifier = features.parse(RAW)
    assert classifier.beats(0.95, None)
    assert classifier.beats(0.95, 0.9) and not classifier.beats(0.905, 0.9)
    regression = features.parse(
        RAW | {"template": "regression", "promote": {"metric": "rmse", "margin": 1.0}}
    )
    assert regression.beats(50.0, 52.0) and not regression.beats(51.5, 52.0)


def test_run_events_make_the_live_table_and_the_result():
    events = [
        {"event": "started", "tasks": ["read", "gate", "train"]},
        {"event": "task", "task_id": "read", "state": "success", "try_number": 1, "duration": 1.5},
        {"event": "task", "task_id": "gate", "state": "failed", "try_number": 1, "duration": 2.0,
         "error": "AirflowFailException: quality gate"},
        {"event": "task", "task_id": "train", "state": "upstream_failed", "try_number": 0},
        {"event": "finished", "state": "failed", "run_id": "manual__1"},
    ]  # fmt: skip
    view, result = RunView("p"), RunResult("p")
    for event in events:
        view.apply(event)
        _apply(result, event)
    assert (result.state, result.run_id, result.failed_task) == ("failed", "manual__1", "gate")
    assert result.error == "gate: AirflowFailException: quality gate"
    html = view.html()
    colours = STATE_COLOURS
    assert html.count("<tr><td>") == 3
    assert f"background:{colours['failed']}" in html and colours["upstream_failed"] in html
    assert "upstream_failed" in repr(view)


def test_template_dag_text_is_python(tmp_path):
    from jupyter_mlplat.pipelines import templates

    text = templates._HEADER.format(
        name="p", what="x.", template="classification", header=project.dag_header("p", None, "a")
    )
    footer = templates._FOOTER.format(name="p")
    ast.parse(text + templates._GATED_READ + templates._TRAINING + footer)
    ast.parse(text + templates._GATED_READ + templates._SCORING + footer)
    assert Path(templates.__file__).parent.name == "templates"


def test_task_listener_reports_retries_failures_and_tasks_that_never_ran():
    from types import SimpleNamespace

    from jupyter_mlplat.pipelines.runner import _TaskEvents

    events: list[dict] = []
    listener = _TaskEvents(lambda **event: events.append(event))
    gate = SimpleNamespace(task_id="gate", try_number=1, state="up_for_retry")
    listener.on_task_instance_running(None, gate)
    listener.on_task_instance_failed(None, gate, RuntimeError("flaky"))
    gate.state, gate.try_number = "failed", 2
    listener.on_task_instance_failed(None, gate, ValueError("bad data\nmore"))
    listener.settle("gate", "failed", 2)  # already reported: nothing new
    listener.settle("train", "upstream_failed", 0)
    assert [(e["task_id"], e["state"]) for e in events] == [
        ("gate", "running"),
        ("gate", "up_for_retry"),
        ("gate", "failed"),
        ("train", "upstream_failed"),
    ]
    assert events[2]["error"] == "ValueError: bad data" and events[2]["try_number"] == 2


def test_kernel_client_calls_the_pipelines_routes(monkeypatch):
    from jupyter_mlplat.kernel.commands import pipeline as command
    from jupyter_mlplat.kernel.platform_api import PlatformApi

    calls: list[tuple[str, str]] = []
    answers = {
        "pipelines": {
            "pipelines": [{"dag_id": "iris", "schedule": "@daily", "paused": False,
                           "next_run": "2026-12-01", "last_run": {"state": "success"}}],
            "import_errors": [{"file": "pipelines/bad.py", "line": 3, "message": "NameError: x"}],
        },
        "pipelines/iris/runs": {"run_id": "manual__1", "state": "queued"},
        "pipelines/iris/pause": {"dag_id": "iris", "paused": True},
    }  # fmt: skip

    def call(self, method, path, body=None, timeout=60):
        calls.append((method, path))
        return answers[path]

    monkeypatch.setattr(PlatformApi, "call", call)
    listing = repr(command.run(None, ["list"], None))
    assert "iris" in listing and "last run success" in listing and "pipelines/bad.py:3" in listing
    assert "manual__1" in repr(command.run(None, ["trigger", "iris"], None))
    assert "true" in repr(command.run(None, ["pause", "iris"], None))
    assert calls == [
        ("GET", "pipelines"),
        ("POST", "pipelines/iris/runs"),
        ("POST", "pipelines/iris/pause"),
    ]


def test_the_pipelines_that_retrain_on_a_table_are_found_by_their_feature_config(tmp_path):
    from jupyter_mlplat.pipelines.templates import training_pipelines

    config = MLPlat(env={}, pipelines_dir=str(tmp_path))
    text = features.render(features.parse(RAW), "test")
    for name in ("iris_train", "no_dag_file"):
        (tmp_path / f"{name}.yaml").write_text(text)
    (tmp_path / "iris_train.py").write_text("# the DAG\n")
    (tmp_path / "broken.yaml").write_text("table: [")
    (tmp_path / "broken.py").write_text("# the DAG\n")
    assert training_pipelines(config, "Demo.Iris") == ["iris_train"]
    assert training_pipelines(config, "demo.wine") == []
