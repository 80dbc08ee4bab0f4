"""The one query language: its grammar (infra.query) and what the search compiles it into."""

from __future__ import annotations

import pytest

from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.infra.query import QueryError, parse
from jupyter_mlplat.search.language import compile_query


def test_terms_clauses_and_positions():
    query = parse('metric.rmse<50 model:"my model" OR iris "sepal length"')
    first, second = query.clauses
    assert [(t.kind, t.name, t.op, t.value, t.position) for t in first.terms] == [
        ("compare", "metric.rmse", "<", "50", 0),
        ("field", "model", ":", "my model", 15),
    ]
    assert [(t.kind, t.value, t.quoted) for t in second.terms] == [
        ("word", "iris", False),
        ("word", "sepal length", True),
    ]
    assert second.after_or == 32


@pytest.mark.parametrize(
    "text", ["metric.rmse<50", "metric.rmse < 50", "metric.rmse< 50", "metric.rmse <50"]
)
def test_spaces_around_operators_are_optional(text):
    (term,) = parse(text).clauses[0].terms
    assert (term.name, term.op, term.number, term.text) == (
        "metric.rmse",
        "<",
        50.0,
        "metric.rmse<50",
    )


@pytest.mark.parametrize(
    ("text", "position", "token"),
    [
        ("metric.rmse <", 13, "<"),
        ("< 5", 1, "<"),
        ("OR iris", 1, "OR"),
        ("iris OR", 6, "OR"),
        ('iris "sepal', 6, '"sepal'),
        ("a metric.x >> 1", 3, "metric.x>>1"),
        ("(iris)", 1, "("),
        ("table: x", 1, "table:"),
        ("kind:mdoel", 1, "kind:mdoel"),
        ("metric.rmse < low", 1, "metric.rmse<low"),
        ("param.C >= big", 1, "param.C>=big"),
        ("tag.team > 1", 1, "tag.team>1"),
        ("colour:red", 1, "colour:red"),
        ("version:two", 1, "version:two"),
        ("kind:table metric.rmse < 5", 12, "metric.rmse<5"),
    ],
)
def test_malformed_queries_say_where_in_one_line(text, position, token):
    with pytest.raises(QueryError) as error:
        compile_query(text)
    message = str(error.value)
    assert "\n" not in message
    assert f"at character {position} ({token!r})" in message
    assert isinstance(error.value, InvalidInput)


def test_metric_threshold_compiles_to_mlflow_run_filter_for_runs_versions_models_reports():
    (clause,) = compile_query("metric.rmse < 50").clauses
    assert clause.kinds == {"run", "version", "model", "report"}
    assert clause.runs is not None and clause.runs.filter == "metrics.`rmse` < 50.0"
    assert clause.versions_by_run
    assert clause.reports is not None and clause.reports.metrics[0].value == 50.0


def test_params_equal_in_mlflow_numeric_comparisons_checked_after():
    (clause,) = compile_query("param.solver = lbfgs param.C >= 1").clauses
    assert clause.runs is not None
    assert clause.runs.filter == "params.`solver` = 'lbfgs' and params.`C` IS NOT NULL"
    assert clause.runs.numeric_params == [("C", ">=", 1.0)]
    assert "report" not in clause.kinds  # reports have no params


def test_or_gives_one_plan_per_clause_with_its_own_kinds():
    metric, table = compile_query("metric.rmse < 50 OR table:demo.iris").clauses
    assert "table" not in metric.kinds
    assert table.kinds == {"table", "column", "report", "run"}
    assert table.runs is not None and table.runs.filter == "datasets.name = 'demo.iris'"
    assert table.fields == {"table": "demo.iris"}


def test_words_names_tags_and_kinds():
    (clause,) = compile_query("iris kind:model|table").clauses
    assert clause.kinds == {"model", "table"}
    assert clause.models == "name ILIKE '%iris%'"
    assert clause.words == ["iris"]
    (clause,) = compile_query("tag.team = fraud model:Iris version:3").clauses
    assert clause.kinds == {"version"}
    assert clause.versions == "tags.`team` = 'fraud' and name ILIKE 'Iris' and version_number = 3"
    (clause,) = compile_query("status:failed experiment:churn pipeline:train").clauses
    assert clause.kinds == {"run"}
    assert clause.runs is not None
    assert clause.runs.filter == (
        "attributes.status = 'FAILED' and tags.`mlplat.pipeline.dag_id` = 'train'"
    )
    assert clause.runs.experiments == ["churn"]


def test_a_plain_word_lists_models_not_every_version():
    (clause,) = compile_query("iris").clauses
    assert "version" not in clause.kinds and "model" in clause.kinds
    (clause,) = compile_query("iris", {"version"}).clauses
    assert clause.kinds == {"version"}


def test_quotes_in_values_are_quoted_for_mlflow():
    (clause,) = compile_query('name:"o\'brien"').clauses
    assert clause.models == 'name ILIKE "%o\'brien%"'


def test_empty_query_has_no_clauses():
    assert compile_query("   ").clauses == []
