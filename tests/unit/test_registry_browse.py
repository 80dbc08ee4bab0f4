"""Pure parts of the registry browsing: search validation, ranking, quality results, serving."""

from __future__ import annotations

from types import SimpleNamespace

import pytest

from jupyter_mlplat.deploy.registry import check_search, match_kind, quoted, serving
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.quality.record import results_of_run as quality_results
from jupyter_mlplat.tracking.ui import run_ui_path


def model(name, tags=None, description="", aliases=None):
    return SimpleNamespace(
        name=name, tags=tags or {}, description=description, aliases=aliases or {}
    )


def test_search_input_is_bounded():
    assert check_search("  iris ", 10) == ("iris", 10)
    with pytest.raises(InvalidInput, match="too long"):
        check_search("x" * 201, 10)
    for limit in (0, 201):
        with pytest.raises(InvalidInput, match="between 1 and 200"):
            check_search("", limit)


def test_filter_literals_never_break_out():
    assert quoted("%a%") == "'%a%'"
    assert quoted("o'b") == '"o\'b"'
    assert quoted("""a'"b""") is None


def test_matches_rank_name_then_tag_then_description():
    assert match_kind(model("iris"), "iris") == (0, "name")
    assert match_kind(model("iris-clf"), "iris") == (1, "name")
    assert match_kind(model("my-iris"), "iris") == (2, "name")
    assert match_kind(model("m", tags={"team": "Fraud"}), "fraud") == (3, "tag")
    assert match_kind(model("m", tags={"fraud": "1"}), "fraud") == (3, "tag")
    assert match_kind(model("m", description="Detects FRAUD"), "fraud") == (4, "description")
    assert match_kind(model("m", aliases={"champion": 1}), "champ") == (5, "alias")
    assert match_kind(model("m"), "fraud") is None


def test_quality_results_from_metrics_and_tags():
    metrics = {
        "quality.rows.success_ratio": 1.0,
        "quality.rows.failed_count": 0.0,
        "quality.v2.checks.success_ratio": 0.25,  # names may contain dots
        "accuracy": 0.9,
    }
    tags = {"mlplat.quality.rows.status": "passed", "mlplat.quality.only_tag.status": "failed"}
    assert quality_results(metrics, tags) == [
        {"name": "only_tag", "status": "failed", "success_ratio": None, "failed_count": None},
        {"name": "rows", "status": "passed", "success_ratio": 1.0, "failed_count": 0},
        {"name": "v2.checks", "status": "failed", "success_ratio": 0.25, "failed_count": None},
    ]


def test_serving_lists_stable_and_canary_deployments():
    def revision(name, version):
        return SimpleNamespace(model=SimpleNamespace(name=name, version=version))

    deployments = [
        SimpleNamespace(name="b", stable=revision("iris", "1"), canary=None),
        SimpleNamespace(name="a", stable=revision("iris", "2"), canary=revision("iris", "1")),
        SimpleNamespace(name="c", stable=revision("wine", "1"), canary=None),
    ]
    assert serving(deployments, "iris", "1") == ["a", "b"]
    assert run_ui_path("3", "abc") == "mlplat/mlflow/#/experiments/3/runs/abc"


def test_the_pipeline_behind_a_run_comes_from_its_tags():
    from jupyter_mlplat.tracking.tags import pipeline_of

    tags = {
        "mlplat.pipeline.dag_id": "iris_classification",
        "mlplat.pipeline.run_id": "manual__2026-11-30",
        "mlplat.pipeline.task_id": "train",
        "mlplat.pipeline.try_number": "1",
        "mlplat.pipeline.kind": "task",
    }
    assert pipeline_of(tags) == {
        "dag_id": "iris_classification",
        "run_id": "manual__2026-11-30",
        "task_id": "train",
        "try_number": "1",
    }
    assert pipeline_of({"mlflow.user": "ada"}) is None
