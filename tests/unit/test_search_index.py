"""The search index (SQLite) answers the query language's MLflow terms as MLflow's search does:
names by substring, metric thresholds, params by string and by number, tags, datasets, status,
experiments; deleted runs, experiments, models and versions disappear. The PostgreSQL index runs
the same checks (tests/integration/test_search_index_postgres.py)."""

from __future__ import annotations

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.search.index import (
    ModelDoc,
    RunDoc,
    RunQuery,
    SqliteIndex,
    VersionDoc,
    index_for,
)
from jupyter_mlplat.search.language import compile_query
from jupyter_mlplat.search.service import SearchService


def fill(index):
    """Three runs in two experiments, two models with versions (one through each run)."""
    index.replace_experiments([("1", "/Users/ada/churn", False), ("2", "/Users/ada/ltv", False)])
    index.upsert_runs(
        [
            RunDoc("a" * 32, "1", "Ridge-Churn-1", "FINISHED", 1000, 1500,
                   metrics={"rmse": 42.0}, params={"alpha": "0.5", "solver": "auto"},
                   tags={"team": "fraud"}, datasets=["demo.iris"]),
            RunDoc("b" * 32, "1", "ridge-churn-2", "FAILED", 2000, 2500,
                   metrics={"rmse": 77.0}, params={"alpha": "3", "solver": "saga"}),
            RunDoc("c" * 32, "2", "forest_ltv", "RUNNING", 3000,
                   metrics={"rmse": 30.0}, params={"alpha": "9", "solver": "auto"}),
        ]
    )  # fmt: skip
    index.upsert_models(
        [
            ModelDoc("Churn-Ridge", "churn model\nsecond line", 10, 2, {"team": "fraud"},
                     {"champion": 1}),
            ModelDoc("ltv-forest", "", 20, 1),
        ]
    )  # fmt: skip
    index.upsert_versions(
        [
            VersionDoc("Churn-Ridge", 1, "a" * 32, "first", 100, 100, {"stage": "prod"}),
            VersionDoc("Churn-Ridge", 2, "b" * 32, "", 200, 200),
            VersionDoc("ltv-forest", 1, "c" * 32, "", 300, 300),
        ]
    )


def runs(index, text, limit=20):
    (clause,) = compile_query(text).clauses
    assert clause.runs is not None
    return [
        h.id[0] for h in index.runs(RunQuery(clause.where.runs, clause.runs.experiments), limit)
    ]


def check_searches(index):
    """The same answers from either backend (``index`` holds :func:`fill`'s rows)."""
    assert runs(index, "churn") == ["b", "a"]  # substring, any case, newest first
    assert runs(index, "ch") == ["b", "a"]  # shorter than a trigram
    assert runs(index, "metric.rmse < 50") == ["c", "a"]
    assert runs(index, "metric.rmse >= 77") == ["b"]
    assert runs(index, "param.alpha >= 3") == ["c", "b"]  # as numbers: "9" > "3", "0.5" < 3
    assert runs(index, "param.alpha = 0.5") == ["a"]
    assert runs(index, "param.solver != auto") == ["b"]
    assert runs(index, "tag.team = fraud") == ["a"]
    assert runs(index, "table:demo.iris") == ["a"]
    assert runs(index, "status:failed") == ["b"]
    assert runs(index, "experiment:LTV") == ["c"]
    assert runs(index, "metric.rmse < 100", limit=1) == ["c"]
    assert runs(index, "forest_") == ["c"]  # _ is no wildcard
    [hit] = index.runs(RunQuery(compile_query("churn").clauses[0].where.runs), 1,
                       [("metric", "rmse"), ("param", "alpha")])  # fmt: skip
    assert (hit.experiment, hit.name, hit.status, hit.metrics, hit.params) == (
        "/Users/ada/churn", "ridge-churn-2", "FAILED", {"rmse": 77.0}, {"alpha": "3"}
    )  # fmt: skip

    (clause,) = compile_query("metric.rmse < 50").clauses
    found = index.versions_by_run(RunQuery(clause.where.runs), [], 10, ["rmse"])
    assert [(v.name, v.version) for v in found] == [("ltv-forest", 1), ("Churn-Ridge", 1)]
    assert found[1].aliases == ["champion"] and found[1].run.metrics == {"rmse": 42.0}
    (clause,) = compile_query("tag.stage = prod model:churn-ridge version:1").clauses
    assert [(v.name, v.version) for v in index.versions(clause.where.versions, 10)] == [
        ("Churn-Ridge", 1)
    ]
    assert [v.version for v in index.versions([], 10)] == [1, 2, 1]  # newest first
    (clause,) = compile_query("ridge").clauses
    assert [m.name for m in index.models(clause.where.models, 10)] == ["Churn-Ridge"]
    (clause,) = compile_query("tag.team = fraud").clauses
    [model] = index.models(clause.where.models, 10)
    assert (model.name, model.description, model.latest) == (
        "Churn-Ridge",
        "churn model\nsecond line",
        2,
    )

    # deletions: a run, an experiment, a model's versions, a model
    assert index.set_deleted_runs({"a" * 32}) == 1
    assert runs(index, "churn") == ["b"]
    assert index.replace_experiments([("1", "/Users/ada/churn", True), ("2", "ltv", False)])
    assert runs(index, "metric.rmse < 100") == ["c"]
    index.replace_experiments([("1", "/Users/ada/churn", False), ("2", "ltv", False)])
    index.set_deleted_runs(set())
    assert runs(index, "churn") == ["b", "a"]
    index.upsert_versions([VersionDoc("Churn-Ridge", 2, "b" * 32)], of_models=["Churn-Ridge"])
    assert {(v.name, v.version) for v in index.versions([], 10)} == {
        ("Churn-Ridge", 2), ("ltv-forest", 1)
    }  # fmt: skip
    index.upsert_models([ModelDoc("ltv-forest", "", 30, 1)], replace_all=True)
    assert [m.name for m in index.models([], 10)] == ["ltv-forest"]
    assert index.counts() == {"runs": 3, "models": 1, "versions": 1}
    index.set_state({"complete": "1", "runs_since": "3000"})
    assert index.ready and index.state("runs_since") == "3000"


def test_sqlite_index_answers_like_mlflow(tmp_path):
    index = index_for(MLPlat(env={}, state_dir=str(tmp_path)))
    assert isinstance(index, SqliteIndex)
    assert not index.ready
    fill(index)
    check_searches(index)
    index.close()
    again = SqliteIndex(tmp_path / "catalog" / "search.sqlite")  # kept on disk
    assert again.ready and again.counts()["runs"] == 3


def test_renamed_runs_are_found_by_their_new_name(tmp_path):
    index = SqliteIndex(tmp_path / "search.sqlite")
    fill(index)
    index.upsert_runs([RunDoc("a" * 32, "1", "renamed", "FINISHED", 1000)])
    assert runs(index, "renamed") == ["a"]
    assert runs(index, "churn") == ["b"]
    assert runs(index, "metric.rmse < 50") == ["c"]  # its values were replaced too


def test_the_service_answers_from_the_index_once_it_is_complete(tmp_path):
    index = SqliteIndex(tmp_path / "search.sqlite")
    fill(index)
    index.set_state({"complete": "1"})
    service = SearchService(MLPlat(env={}, state_dir=str(tmp_path)), index=index)
    found = service.search("metric.rmse < 50 model:churn-ridge")
    groups = {g["kind"]: g["results"] for g in found["groups"]}
    [version] = groups["version"]
    assert version["id"] == "Churn-Ridge/1"
    assert version["subtitle"] == "rmse 42 · run Ridge-Churn-1 · @champion"
    assert version["target"] == {"panel": "models", "model": "Churn-Ridge", "version": "1"}
    found = service.search("param.alpha >= 3 kind:run")
    [run, _] = found["groups"][0]["results"]
    assert run["subtitle"] == "/Users/ada/ltv · alpha=9 · running"
    assert run["target"]["path"].endswith(f"#/experiments/2/runs/{'c' * 32}")
    assert [r["subtitle"] for r in service.search("kind:model ridge")["groups"][0]["results"]] == [
        "churn model"
    ]
    found = service.search("metric.rmse < 50 kind:model")
    assert [(r["id"], r["subtitle"]) for r in found["groups"][0]["results"]] == [
        ("ltv-forest", "1 matching version"), ("Churn-Ridge", "1 matching version")
    ]  # fmt: skip


@pytest.mark.parametrize("url", ["mysql://x", "sqlite:///x"])
def test_only_postgres_urls(url):
    from jupyter_mlplat.errors import InvalidInput

    with pytest.raises(InvalidInput, match="search_index_url"):
        index_for(MLPlat(env={}, search_index_url=url))


def test_a_schema_1_index_is_migrated_in_place(tmp_path):
    """An index file of the previous version (no run start time beside the values) opens
    migrated: same answers, the values' indexes list runs by start time."""
    import sqlite3

    path = tmp_path / "search.sqlite"
    fill(SqliteIndex(path))
    old = sqlite3.connect(path)
    for table in ("run_metrics", "run_params", "run_tags"):
        for (name,) in old.execute(
            "SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = ? "
            "AND sql IS NOT NULL",
            (table,),
        ).fetchall():
            old.execute(f"DROP INDEX {name}")
        old.execute(f"ALTER TABLE {table} DROP COLUMN start_ms")
    old.execute("CREATE INDEX run_metrics_by_value ON run_metrics (name, value)")
    old.execute("DELETE FROM search_sync WHERE key = 'schema'")
    old.commit()
    old.close()

    index = SqliteIndex(path)
    assert index.state("schema") == "2"
    assert runs(index, "metric.rmse < 50") == ["c", "a"]
    assert runs(index, "param.alpha >= 3") == ["c", "b"]
    columns = index._rows("SELECT name FROM pragma_index_info('run_metrics_by_value')")
    assert [c[0] for c in columns] == ["name", "value", "start_ms"]
    index.close()


def test_a_sync_that_changes_nothing_writes_nothing(tmp_path):
    """Queries keep their page cache while MLflow has nothing new: the sync's unchanged
    experiments, models, versions and states are not written again."""
    index = SqliteIndex(tmp_path / "search.sqlite")
    fill(index)
    index.set_state({"complete": "1", "runs_since": "3000"})

    def version():
        return index._rows("PRAGMA data_version")[0][0]

    before = version()
    assert not index.replace_experiments(
        [("1", "/Users/ada/churn", False), ("2", "/Users/ada/ltv", False)]
    )
    index.set_state({"complete": "1", "runs_since": "3000"})
    models = [
        ModelDoc("Churn-Ridge", "churn model\nsecond line", 10, 2, {"team": "fraud"},
                 {"champion": 1}),
        ModelDoc("ltv-forest", "", 20, 1),
    ]  # fmt: skip
    assert index.upsert_models(models, replace_all=True) == 0
    versions = [
        VersionDoc("Churn-Ridge", 1, "a" * 32, "first", 100, 100, {"stage": "prod"}),
        VersionDoc("Churn-Ridge", 2, "b" * 32, "", 200, 200),
        VersionDoc("ltv-forest", 1, "c" * 32, "", 300, 300),
    ]
    assert index.upsert_versions(versions, every=True) == 0
    again = RunDoc("a" * 32, "1", "Ridge-Churn-1", "FINISHED", 1000, 1500,
                   metrics={"rmse": 42.0, "nan": float("nan")},
                   params={"alpha": "0.5", "solver": "auto"}, tags={"team": "fraud"},
                   datasets=["demo.iris", "demo.iris"])  # fmt: skip
    assert index.upsert_runs([again], only_changed=True) == 0
    assert version() == before
    again.metrics["rmse"] = 41.0
    assert index.upsert_runs([again], only_changed=True) == 1
    assert runs(index, "metric.rmse < 41.5") == ["c", "a"]
    before = version()
    # a changed tag, a version gone: written
    versions[0].tags = {"stage": "staging"}
    assert index.upsert_versions(versions[:2], every=True) == 1
    assert version() != before
    (clause,) = compile_query("tag.stage = staging kind:version").clauses
    assert [(v.name, v.version) for v in index.versions(clause.where.versions, 10)] == [
        ("Churn-Ridge", 1)
    ]
    assert {(v.name, v.version) for v in index.versions([], 10)} == {
        ("Churn-Ridge", 1), ("Churn-Ridge", 2)
    }  # fmt: skip


def test_a_driving_term_reads_more_runs_when_the_others_leave_too_few(tmp_path):
    """The newest runs of the most selective term are joined first, then more: the answer is
    the one a scan of every run gives."""
    index = SqliteIndex(tmp_path / "search.sqlite")
    index.replace_experiments([("1", "e", False)])
    index.upsert_runs(
        [
            RunDoc(f"{i:032x}", "1", f"run-{i}", "FINISHED", 1000 + i,
                   metrics={"rmse": float(i)}, params={"solver": "saga" if i % 3 else "auto"})
            for i in range(60)
        ]
    )  # fmt: skip
    index.upsert_versions([VersionDoc("m", i + 1, f"{i:032x}") for i in range(0, 60, 2)])
    expected = [i for i in range(59, -1, -1) if i < 30 and i % 3 == 0]
    found = [int(h.id, 16) for h in index.runs(
        RunQuery(compile_query("metric.rmse < 30 param.solver = auto").clauses[0].where.runs), 5
    )]  # fmt: skip
    assert found == expected[:5]
    (clause,) = compile_query("metric.rmse < 30 param.solver = auto").clauses
    versions = index.versions_by_run(RunQuery(clause.where.runs), [], 3)
    assert [v.version - 1 for v in versions] == [i for i in expected if i % 2 == 0][:3]


def test_pipeline_runs_with_what_they_logged(tmp_path):
    """Airflow's runs in the index: found by words (DAG, trigger, assets), DAG and state,
    newest first, with the MLflow runs their tasks logged and the versions from those."""
    from jupyter_mlplat.search.index import PipelineRunDoc

    index = SqliteIndex(tmp_path / "search.sqlite")
    fill(index)
    index.upsert_runs(
        [RunDoc("d" * 32, "1", "fit", "FINISHED", 4000, tags={
            "mlplat.pipeline.dag_id": "train", "mlplat.pipeline.run_id": "manual__1"})]
    )  # fmt: skip
    index.upsert_versions([VersionDoc("Churn-Ridge", 3, "d" * 32, "", 400, 400)])
    runs_ = [
        PipelineRunDoc("train", "manual__1", "success", "manual", "rest_api", "ada", 5000, 9000),
        PipelineRunDoc("retrain", "asset__2", "failed", "asset_triggered", "asset", "", 6000,
                       assets=["table:demo.iris"]),
        PipelineRunDoc("train", "scheduled__3", "running", "scheduled", "timetable", "", 7000),
    ]  # fmt: skip
    assert index.upsert_pipeline_runs(runs_) == 3
    assert index.upsert_pipeline_runs(runs_) == 0  # unchanged: not written again

    def found(words=(), dag="", state=""):
        return [(h.run.dag_id, h.run.run_id) for h in index.pipeline_runs(words, dag, state, 10)]

    assert found() == [("train", "scheduled__3"), ("retrain", "asset__2"), ("train", "manual__1")]
    assert found(["demo.iris"]) == [("retrain", "asset__2")]
    assert found(["REST_API"]) == [("train", "manual__1")]
    assert found(dag="Train") == [("train", "scheduled__3"), ("retrain", "asset__2"),
                                  ("train", "manual__1")]  # fmt: skip
    assert found(state="FAILED") == [("retrain", "asset__2")]
    [hit] = index.pipeline_runs(["manual"], "", "", 10)
    assert hit.mlflow_runs == [("d" * 32, "1", "fit")] and hit.versions == [("Churn-Ridge", 3)]
    assert hit.run.assets == [] and index.pipeline_runs(["asset"], "", "", 1)[0].run.assets == [
        "table:demo.iris"
    ]
    # every run read again: the ones Airflow no longer has go
    assert index.upsert_pipeline_runs(runs_[1:], replace_all=True) == 0
    assert found() == [("train", "scheduled__3"), ("retrain", "asset__2")]

    service = SearchService(MLPlat(env={}, state_dir=str(tmp_path)), index=index)
    index.set_state({"pipeline_runs_since": "1"})
    groups = {g["kind"]: g for g in service.search("kind:pipeline retrain")["groups"]}
    [result] = groups["pipeline_run"]["results"]
    assert groups["pipeline_run"]["label"] == "Pipeline runs"
    assert result["id"] == "retrain/asset__2" and result["title"] == "retrain · asset__2"
    assert result["subtitle"].startswith("failed · on table:demo.iris · 1970-01-01 00:00 UTC")
    assert result["target"]["panel"] == "pipelines" and result["target"]["run"] == "asset__2"
