"""The SQLite reports index: upsert, search by metric, fields and words, the sync cursor."""

from __future__ import annotations

import pytest

from jupyter_mlplat.reports.index import ReportSummary, SqliteIndex
from jupyter_mlplat.reports.query import parse


def summaries() -> list[ReportSummary]:
    return [
        ReportSummary("a" * 32, "iris", "1", "2026-01-01T00:00:00Z", 1000, "demo.iris", "ab12",
                      "classifier", "species", 150, {"f1_score": 0.95, "accuracy_score": 0.96},
                      {"version": "2", "verdict": "better",
                       "verdict_counts": {"better": 3, "worse": 1, "same": 0}}),
        ReportSummary("b" * 32, "iris", "2", "2026-01-02T00:00:00Z", 2000, "demo.iris", "ab12",
                      "classifier", "species", 150, {"f1_score": 0.80}),
        ReportSummary("c" * 32, "diabetes_ridge", "1", "2026-01-03T00:00:00Z", 3000,
                      "demo.diabetes", "cd34", "regressor", "progression", 442,
                      {"r2_score": 0.5, "mean_squared_error": 2900.0}),
    ]  # fmt: skip


@pytest.fixture
def index(tmp_path):
    with_index = SqliteIndex(tmp_path / "reports.sqlite")
    with_index.upsert(summaries())
    yield with_index
    with_index.close()


def ids(index, text):
    return [hit.id[0] for hit in index.search(parse(text))]


def check_searches(index):
    """What every backend must answer alike."""
    assert ids(index, "") == ["c", "b", "a"]  # newest first
    assert ids(index, "metric.f1_score > 0.9") == ["a"]
    assert ids(index, "metric.f1_score >= 0.8") == ["b", "a"]
    assert ids(index, "metric.mean_squared_error < 3000 type:regressor") == ["c"]
    assert ids(index, "table:demo.iris") == ["b", "a"]
    assert ids(index, "model:IRIS version:2") == ["b"]
    assert ids(index, "champion:better") == ["a"]
    assert ids(index, "champion:none") == ["c", "b"]
    assert ids(index, "digest:cd34") == ["c"]

    assert ids(index, "diabetes") == ["c"]
    assert ids(index, "demo.iris species") == ["b", "a"]
    assert ids(index, "r2_score") == ["c"]
    assert ids(index, "nothing") == []


def test_search_by_metric_threshold_table_model_type_and_words(index):
    check_searches(index)


def test_upsert_replaces_a_report_and_the_cursor_persists(tmp_path):
    index = SqliteIndex(tmp_path / "reports.sqlite")
    index.upsert(summaries())
    changed = summaries()[1]
    changed.metrics = {"f1_score": 0.99}
    index.upsert([changed])
    assert [h.id[0] for h in index.search(parse("metric.f1_score > 0.9"))] == ["b", "a"]
    assert index.cursor() == 0
    index.set_cursor(2000)
    index.close()
    again = SqliteIndex(tmp_path / "reports.sqlite")
    assert again.cursor() == 2000
    hit = again.search(parse("model:iris version:1"))[0]
    assert hit.to_json()["champion"]["verdict_counts"]["better"] == 3
    assert "created_ms" not in hit.to_json()
    again.close()
