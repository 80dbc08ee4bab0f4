"""The report magics' parsing and rendering (the real calls run in tests/integration)."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from jupyter_mlplat.kernel.commands import evaluate as evaluate_command
from jupyter_mlplat.kernel.commands import reports as reports_command
from jupyter_mlplat.kernel.commands.evaluate import EvaluationSummary
from jupyter_mlplat.kernel.commands.reports import ReportsTable

REPORT = {
    "id": "a" * 32, "created": "2026-01-01T10:00:00Z", "model_type": "classifier",
    "model": {"name": "iris", "version": "2", "run_id": "r", "uri": "models:/iris/2"},
    "holdout": {"table": "demo.iris", "rows": 150, "digest": "0123456789abcdef", "label": "s"},
    "metrics": {"f1_score": 0.97, "example_count": 150.0}, "plots": [], "quality": [],
    "champion": {"version": "1", "alias": "champion", "report_id": "b" * 32,
                 "metrics": {"f1_score": 0.87},
                 "diff": [{"metric": "f1_score", "value": 0.97, "champion": 0.87,
                           "delta": 0.1, "verdict": "better"}]},
}  # fmt: skip


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "the following arguments are required: model"),
        (["models:/iris/1"], "one of the arguments --table --data is required"),
        (["models:/iris/1", "--table", "t", "--data", "d"], "not allowed with argument"),
        (["models:/iris/1", "--table", "t", "--rows", "many"], "invalid int value"),
    ],
)
def test_evaluate_arguments_fail_in_one_line(args, message):
    with pytest.raises(UsageError, match=message) as caught:
        evaluate_command.parser().parse_args(args)
    assert "\n" not in str(caught.value)


def test_the_evaluation_summary_links_the_page_and_shows_the_diff():
    summary = EvaluationSummary(REPORT, 2.5, "/user/ada/")
    html = summary._repr_html_()
    assert f"href='/user/ada/mlplat/api/reports/{'a' * 32}/html'" in html
    assert "better" in html and "demo.iris" in html and "150 rows" in html
    assert "vs 0.87: better" in repr(summary)


def test_the_reports_table():
    entry = {k: REPORT[k] for k in ("id", "created", "model_type", "metrics")} | {
        "model": "iris", "version": "2", "table": "demo.iris", "digest": "0123",
        "champion": {"version": "1", "verdict": "better"},
    }  # fmt: skip
    table = ReportsTable("table:demo.iris", [entry], "/")
    html = table._repr_html_()
    assert "better than v1" in html and "f1_score 0.97" in html and "/html'" in html
    assert "example_count" not in html
    assert "no reports match" in ReportsTable("x", [])._repr_html_()
    assert reports_command.parser().parse_args(["metric.f1 > 1", "--limit", "5"]).limit == 5
