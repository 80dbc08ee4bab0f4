"""The one search on the real platform: MLflow (models, versions, runs), the catalog index
(tables, column comments from Spark Connect), the REST route and ``%mlp search`` in a kernel."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.integration


@dataclass
class Trained:
    model: str
    experiment_id: str
    good_run: str  # rmse 42, alpha 0.5
    bad_run: str  # rmse 77, alpha 3
    unregistered_run: str  # rmse 30, alpha 9, no model version


@pytest.fixture(scope="module")
def trained(platform, lab) -> Trained:
    trained = train_ridges(platform.tracking_uri)
    wait_until_searchable(lab, trained)
    return trained


def wait_until_searchable(lab, trained: Trained, timeout: float = 60) -> None:
    """The server's search index syncs from MLflow every few seconds: wait for these runs."""
    deadline = time.monotonic() + timeout
    queries = {
        f"model:{trained.model} kind:version": 2,
        f"experiment:search-{trained.model[-6:]} kind:run": 3,
        f"{trained.model} kind:model": 1,
    }
    while True:
        counts = {
            q: sum(len(g["results"]) for g in search(lab, q).json()["groups"]) for q in queries
        }
        if counts == queries:
            return
        assert time.monotonic() < deadline, f"the search index never listed them: {counts}"
        time.sleep(0.2)


def train_ridges(tracking_uri: str) -> Trained:
    """Two registered versions of a regressor (rmse 42 and 77) and a run with no model."""
    import mlflow
    from sklearn.linear_model import Ridge

    suffix = uuid.uuid4().hex[:6]
    mlflow.set_tracking_uri(tracking_uri)
    experiment = mlflow.set_experiment(f"/Users/ada/search-{suffix}")
    name = f"diabetes-ridge-{suffix}"
    runs = []
    for alpha, rmse, register in ((0.5, 42.0, True), (3.0, 77.0, True), (9.0, 30.0, False)):
        with mlflow.start_run(run_name=f"ridge-{alpha}-{suffix}") as run:
            mlflow.log_params({"alpha": alpha, "solver": "auto"})
            mlflow.log_metric("rmse", rmse)
            if register:
                model = Ridge(alpha=alpha).fit([[0.0], [1.0], [2.0]], [0.0, 1.0, 2.0])
                mlflow.sklearn.log_model(model, name="model", registered_model_name=name)
            runs.append(run.info.run_id)
    return Trained(name, experiment.experiment_id, *runs)


def search(lab, q, **params):
    return lab.api("GET", "mlplat/api/search", params={"q": q, **params})


def groups(response):
    assert response.status_code == 200, response.text
    return {g["kind"]: g["results"] for g in response.json()["groups"]}


def test_a_model_version_by_a_metric_threshold(lab, trained):
    found = groups(search(lab, f"metric.rmse < 50 model:{trained.model}"))
    assert [r["id"] for r in found["version"]] == [f"{trained.model}/1"]
    [version] = found["version"]
    assert version["target"] == {"panel": "models", "model": trained.model, "version": "1"}
    assert "rmse 42" in version["subtitle"]
    found = groups(search(lab, "metric.rmse < 50", kind="model"))
    assert trained.model in {r["id"] for r in found["model"]}
    assert set(found) == {"model"}
    found = groups(search(lab, "metric.rmse > 50 kind:version"))
    assert f"{trained.model}/2" in {r["id"] for r in found["version"]}
    assert f"{trained.model}/1" not in {r["id"] for r in found["version"]}


def test_runs_by_a_param_numerically_and_by_equality(lab, trained):
    found = groups(search(lab, f"param.alpha >= 3 experiment:search-{trained.model[-6:]}"))
    assert {r["id"] for r in found["run"]} == {trained.bad_run, trained.unregistered_run}
    run = next(r for r in found["run"] if r["id"] == trained.bad_run)
    assert run["target"]["path"] == (
        f"mlplat/mlflow/#/experiments/{trained.experiment_id}/runs/{trained.bad_run}"
    )
    found = groups(search(lab, "param.alpha = 0.5 kind:run"))
    assert trained.good_run in {r["id"] for r in found["run"]}


def test_a_table_by_a_column_comment(lab):
    # a describe (through Spark Connect) puts the columns and their comments in the index
    assert lab.api("GET", "mlplat/api/catalog/tables/demo/diabetes").status_code == 200
    found = groups(search(lab, "quantitative"))  # only in the comment of diabetes.progression
    assert [r["id"] for r in found["table"]] == ["demo.diabetes"]
    assert found["table"][0]["target"] == {"panel": "catalog", "table": "demo.diabetes"}
    assert "progression" in found["table"][0]["subtitle"]
    [column] = found["column"]
    assert column["id"] == "demo.diabetes.progression"
    assert column["target"] == {"panel": "catalog", "table": "demo.diabetes",
                                "column": "progression"}  # fmt: skip


def test_or_and_kind_join_models_and_tables(lab, trained):
    found = groups(search(lab, f"metric.rmse < 50 model:{trained.model} OR table:demo.iris"))
    assert [r["id"] for r in found["version"]] == [f"{trained.model}/1"]
    assert [r["id"] for r in found["table"]] == ["demo.iris"]
    only_tables = groups(search(lab, f"{trained.model} OR iris kind:table"))
    assert only_tables["model"][0]["id"] == trained.model  # first clause: any kind
    assert "demo.iris" in {r["id"] for r in only_tables["table"]}


@pytest.mark.parametrize(
    ("q", "where"),
    [
        ("metric.rmse <", "at character 13 ('<')"),
        ("metric.rmse < low", "at character 1 ('metric.rmse<low')"),
        ("iris OR", "at character 6 ('OR')"),
        ('name:"iris', "at character 6"),
        ("kind:table metric.rmse < 5", "at character 12"),
        ("colour:red", "unknown field 'colour'"),
    ],
)
def test_bad_queries_are_a_400_in_one_line(lab, q, where):
    response = search(lab, q)
    assert response.status_code == 400, response.text
    message = response.json()["message"]
    assert where in message and "\n" not in message


def test_bad_limit_and_kind(lab):
    assert search(lab, "iris", limit=0).status_code == 400
    assert "unknown kind" in search(lab, "iris", kind="tables|flowers").json()["message"]


def test_mlp_search_in_a_kernel_shows_grouped_links(lab, trained):
    with lab.kernel(lab.start_session("search.ipynb")) as kernel:
        result = kernel.execute(
            f'%mlp search "metric.rmse < 50 model:{trained.model} OR quantitative"'
        )
        assert result.status == "ok", result.error
        html = "".join(result.data("text/html"))
        assert "Model versions" in html and "Tables" in html and "Columns" in html
        assert f"#/models/{trained.model}/versions/1" in html
        assert "demo.diabetes" in html
        bad = kernel.execute('%mlp search "metric.rmse <"')
        lines = [line for line in bad.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("UsageError: "), bad.stderr
        assert "at character 13" in lines[0]
        assert kernel.execute("1 + 1").status == "ok"
