"""Champion diffs: which way each metric is better, the verdicts, the page that shows them."""

from __future__ import annotations

from jupyter_mlplat.reports import compare, render


def test_directions_know_mlflow_metric_names_and_their_per_class_variants():
    assert compare.direction("f1_score") == 1 and compare.direction("roc_auc") == 1
    assert compare.direction("log_loss") == -1
    assert compare.direction("root_mean_squared_error") == -1
    assert compare.direction("precision_score_setosa") == 1
    assert compare.direction("example_count") == 0 and compare.direction("sum_on_target") == 0


def test_diff_and_summary():
    rows = compare.diff(
        {"f1_score": 0.9, "log_loss": 0.3, "r2_score": 0.5, "example_count": 10, "only_here": 1},
        {"f1_score": 0.8, "log_loss": 0.2, "r2_score": 0.5, "example_count": 10},
    )
    assert [(r["metric"], r["verdict"]) for r in rows] == [
        ("f1_score", "better"), ("log_loss", "worse"), ("r2_score", "same"),
    ]  # fmt: skip
    assert rows[0]["delta"] == 0.9 - 0.8
    assert compare.summary(rows) == {
        "verdict": "same", "verdict_counts": {"better": 1, "worse": 1, "same": 1}
    }  # fmt: skip
    assert compare.summary(rows[:1])["verdict"] == "better"
    assert compare.summary([])["verdict"] == "same"


def report(**changes):
    base = {
        "id": "a" * 32, "created": "2026-01-01T00:00:00Z", "model_type": "classifier",
        "model": {"name": "m<x>", "version": "2", "run_id": "r", "uri": "models:/m/2"},
        "holdout": {"table": "demo.iris", "rows": 150, "digest": "ab", "label": "species"},
        "metrics": {"f1_score": 0.9}, "quality": [], "champion": None,
        "plots": [{"name": "p", "title": "P", "png_base64": "iVBORw0KGgo="}],
    }  # fmt: skip
    return base | changes


def test_the_page_escapes_embeds_and_says_when_there_is_no_champion():
    page = render.html(report(champion_note="Model m has no @champion version."))
    assert "m&lt;x&gt;" in page and "<x>" not in page
    assert "data:image/png;base64,iVBORw0KGgo=" in page and "<script" not in page
    assert "no @champion version" in page
    diff = compare.diff({"f1_score": 0.9}, {"f1_score": 0.8})
    page = render.html(report(champion={"version": "1", "alias": "champion", "diff": diff}))
    assert "version 1 (@champion)" in page and "+0.1" in page and "better" in page
