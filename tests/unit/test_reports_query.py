"""The reports' query language: terms, comparisons, one-line errors naming the bad token."""

from __future__ import annotations

import pytest

from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.reports.query import MetricFilter, parse


def test_a_full_query_parses_into_metrics_fields_and_words():
    query = parse("metric.f1_score > 0.9 table:Demo.Iris model:iris version:3 type:classifier Big")
    assert query.metrics == [MetricFilter("f1_score", ">", 0.9)]
    assert query.fields == {"table": "demo.iris", "model": "iris", "version": "3",
                            "type": "classifier"}  # fmt: skip
    assert query.words == ["big"]


@pytest.mark.parametrize(
    "text",
    ["metric.r2_score>=0.5", "metric.r2_score >=0.5", "metric.r2_score>= 0.5",
     "metric.r2_score >= 0.5", "metric.r2_score >= 5e-1"],
)  # fmt: skip
def test_comparisons_with_or_without_spaces(text):
    assert parse(text).metrics == [MetricFilter("r2_score", ">=", 0.5)]


def test_every_operator():
    ops = [parse(f"metric.m {op} 1").metrics[0].op for op in (">", ">=", "<", "<=", "=")]
    assert ops == [">", ">=", "<", "<=", "="]


def test_empty_query():
    assert parse("").empty and parse("   ").empty


@pytest.mark.parametrize(
    ("text", "bad"),
    [
        ("metric.f1 > high", "metric.f1>high"),
        ("metric.f1 >> 1", "metric.f1>>1"),
        ("f1 > 0.9", ">"),
        ("colour:red", "colour:red"),
        ("version:three", "version:three"),
        ("type:clustering", "type:clustering"),
        ("table:", "table:"),
        ("drop;table", "drop;table"),
    ],
)
def test_a_malformed_term_is_one_line_naming_it(text, bad):
    with pytest.raises(InvalidInput) as error:
        parse(text)
    message = str(error.value)
    assert "\n" not in message and repr(bad) in message


def test_unbalanced_quotes_and_long_queries_are_refused():
    with pytest.raises(InvalidInput):
        parse('model:"iris')
    with pytest.raises(InvalidInput, match="too long"):
        parse("x" * 501)
