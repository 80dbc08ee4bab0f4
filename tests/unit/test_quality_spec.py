"""The short expectation syntax: every form, round trips, and one-line errors."""

from __future__ import annotations

import pytest

from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.quality.spec import COLUMN_RULES, parse


def only(text):
    specs = parse(text).expectations
    assert len(specs) == 1
    return specs[0]


@pytest.mark.parametrize(
    ("line", "gx_type", "arguments"),
    [
        ("id: not_null", "ExpectColumnValuesToNotBeNull", {"column": "id"}),
        ("id: null", "ExpectColumnValuesToBeNull", {"column": "id"}),
        ("id: unique", "ExpectColumnValuesToBeUnique", {"column": "id"}),
        (
            "amount: between 0 10000",
            "ExpectColumnValuesToBeBetween",
            {"column": "amount", "min_value": 0, "max_value": 10000},
        ),
        (
            "amount: between -1.5 2.5 mostly=0.9",
            "ExpectColumnValuesToBeBetween",
            {"column": "amount", "min_value": -1.5, "max_value": 2.5, "mostly": 0.9},
        ),
        (
            "country: in [DE, FR, 'P L', 3]",
            "ExpectColumnValuesToBeInSet",
            {"column": "country", "value_set": ["DE", "FR", "P L", 3]},
        ),
        (
            "country: not_in [XX]",
            "ExpectColumnValuesToNotBeInSet",
            {"column": "country", "value_set": ["XX"]},
        ),
        (
            'email: regex "^[^@]+@[a-z]{2,}$"',
            "ExpectColumnValuesToMatchRegex",
            {"column": "email", "regex": "^[^@]+@[a-z]{2,}$"},
        ),
        (
            "code: match ^[A-Z]+$",
            "ExpectColumnValuesToMatchRegex",
            {"column": "code", "regex": "^[A-Z]+$"},
        ),
        ("id: type int64", "ExpectColumnValuesToBeOfType", {"column": "id", "type_": "int64"}),
        (
            "code: length between 2 3",
            "ExpectColumnValueLengthsToBeBetween",
            {"column": "code", "min_value": 2, "max_value": 3},
        ),
        ("code: length = 2", "ExpectColumnValueLengthsToEqual", {"column": "code", "value": 2}),
        (
            "x: min between 0 1",
            "ExpectColumnMinToBeBetween",
            {"column": "x", "min_value": 0, "max_value": 1},
        ),
        (
            "x: max between 0 1",
            "ExpectColumnMaxToBeBetween",
            {"column": "x", "min_value": 0, "max_value": 1},
        ),
        (
            "x: mean between 0 1",
            "ExpectColumnMeanToBeBetween",
            {"column": "x", "min_value": 0, "max_value": 1},
        ),
        (
            "rows: between 1000 1e6",
            "ExpectTableRowCountToBeBetween",
            {"min_value": 1000, "max_value": 1000000},
        ),
        ("rows = 150", "ExpectTableRowCountToEqual", {"value": 150}),
        ("rows: 150", "ExpectTableRowCountToEqual", {"value": 150}),
        (
            "columns: [a, b]",
            "ExpectTableColumnsToMatchSet",
            {"column_set": ["a", "b"], "exact_match": True},
        ),
        (
            "columns: include [a]",
            "ExpectTableColumnsToMatchSet",
            {"column_set": ["a"], "exact_match": False},
        ),
        ("`rows`: not_null", "ExpectColumnValuesToNotBeNull", {"column": "rows"}),
        (
            "ExpectColumnValuesToBeInSet(column='c', value_set=['a', 'b'])",
            "ExpectColumnValuesToBeInSet",
            {"column": "c", "value_set": ["a", "b"]},
        ),
        (
            "c: ExpectColumnValuesToBeInSet(value_set=[1, 2])",
            "ExpectColumnValuesToBeInSet",
            {"column": "c", "value_set": [1, 2]},
        ),
    ],
)
def test_every_short_form(line, gx_type, arguments):
    spec = only(line)
    assert spec.gx_type == gx_type
    assert spec.arguments == arguments
    assert parse(spec.to_line()).expectations == [spec]  # what suite files store reads back


def test_a_cell_with_many_checks_comments_and_suites():
    parsed = parse(
        """
        # orders arrive daily
        order_id: not_null, unique   # the key
        amount: between 0 10000, mean between 10 500
        country: in [DE, FR, PL]
        suite: base, extra
        """
    )
    assert [s.to_line() for s in parsed.expectations] == [
        "order_id: not_null",
        "order_id: unique",
        "amount: between 0 10000",
        "amount: mean between 10 500",
        "country: in [DE, FR, PL]",
    ]
    assert parsed.suites == ["base", "extra"]
    assert parse("email: regex '^a#b$'").expectations[0].arguments["regex"] == "^a#b$"


def test_only_row_checks_show_failing_rows():
    assert only("a: not_null").per_row
    assert not only("a: mean between 0 1").per_row
    assert not only("rows: between 1 2").per_row


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("amount: foo", "unknown check 'foo'. Supported: column checks: not_null"),
        ("amount: between 0", "between takes 2 arguments: between <min> <max>"),
        ("amount: between a b", "expected a number, got 'a'"),
        ("amount: between 5 1", "minimum is larger than the maximum"),
        ("id: unique 3", "unique takes no arguments"),
        ("country: in DE", "expected a list like [a, b]"),
        ("rows: between 1.5 3", "expected a whole number"),
        ("rows: many", "unknown rows check 'many'. Supported: rows: between"),
        ("columns: exactly a", "unknown columns check"),
        ("amount: not_null mostly=2", "mostly must be between 0 and 1"),
        ("amount: not_null often=1", "unknown option 'often'"),
        ("amount: mean between 0 1 mostly=0.5", "unknown option 'mostly'"),
        ("country: in [DE, FR", "unbalanced"),
        ("just words", "expected '<column>: <check>, ...'"),
        ("amount:", "no check given"),
        ("suite: ../etc", "invalid suite '../etc'"),
        ("ExpectColumnValuesToBeInSet('c')", "use keyword arguments"),
        ("ExpectColumnValuesToBeInSet(value_set=open('x'))", "cannot read the GX expectation"),
    ],
)
def test_bad_lines_say_what_is_wrong_in_one_line(line, message):
    with pytest.raises(InvalidInput) as err:
        parse(f"id: not_null\n{line}")
    assert message in str(err.value)
    assert str(err.value).startswith("line 2 ")
    assert "\n" not in str(err.value)


def test_unknown_checks_list_every_supported_one():
    with pytest.raises(InvalidInput) as err:
        parse("a: nonsense")
    for rule in COLUMN_RULES.values():
        assert rule.usage in str(err.value)
