"""The reports' query language: ``metric.f1_score > 0.9 table:demo.iris model:iris words``.

The grammar is the platform's one query language (:mod:`jupyter_mlplat.infra.query`); this
module gives its terms their meaning for reports. Terms all hold (AND; ``OR`` is the one
search's, ``/mlplat/api/search``):

* ``metric.<name> <op> <number>`` (or without spaces, ``metric.r2_score>=0.5``), op one of
  ``> >= < <= =``;
* ``table:<db.table>``, ``model:<name>``, ``version:<n>``, ``type:classifier|regressor``,
  ``digest:<hex prefix>``, ``champion:better|worse|same|none``;
* any other word is free text, matched against the report's model, table, label and type.

A malformed token raises InvalidInput naming it, so a typo never silently widens a search.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.infra import query as grammar
from jupyter_mlplat.infra.query import Term

MAX_QUERY_LENGTH = grammar.MAX_QUERY_LENGTH
MAX_TOKENS = 20
OPERATORS = (">=", "<=", ">", "<", "=")
FIELDS = ("table", "model", "version", "type", "digest", "champion")
MODEL_TYPES = ("classifier", "regressor")
CHAMPION_VALUES = ("better", "worse", "same", "none")

_METRIC_NAME = re.compile(r"^metric\.([A-Za-z_][\w.\-]*)$")
_WORD = re.compile(r"^[\w.\-@/]+$")


@dataclass(frozen=True)
class MetricFilter:
    """``metric <op> value``."""

    metric: str
    op: str
    value: float


@dataclass
class Query:
    """A parsed query: metric comparisons, field equalities and free words (all ANDed)."""

    metrics: list[MetricFilter] = field(default_factory=list)
    fields: dict[str, str] = field(default_factory=dict)
    words: list[str] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not (self.metrics or self.fields or self.words)


def parse(text: str) -> Query:
    """Parse a query; InvalidInput names the first bad token."""
    text = (text or "").strip()
    if len(text) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"the query is too long (at most {MAX_QUERY_LENGTH} characters)")
    parsed = grammar.parse(text)
    if len(parsed.clauses) > 1:
        raise grammar.QueryError(
            "report search has no OR (the one search, %mlp search, has)",
            parsed.clauses[1].after_or,
            "OR",
        )
    terms = parsed.clauses[0].terms if parsed.clauses else []
    if len(terms) > MAX_TOKENS:
        raise InvalidInput(f"the query has too many terms (at most {MAX_TOKENS})")
    return of_terms(terms)


def of_terms(terms: Iterable[Term]) -> Query:
    """The reports query of parsed terms (all ANDed); InvalidInput names the first bad one."""
    query = Query()
    for term in terms:
        _add(query, term)
    return query


def _add(query: Query, term: Term) -> None:
    token = term.text
    if term.kind == "compare":
        match = _METRIC_NAME.match(term.name)
        if not match:
            raise InvalidInput(
                f"invalid query term {token!r}: the comparison {term.op!r} needs metric.<name>"
            )
        number = term.number
        if number is None or term.op not in OPERATORS:
            raise InvalidInput(
                f"invalid query term {token!r}: use metric.<name> <op> <number> "
                f"with op one of {' '.join(OPERATORS)}"
            )
        query.metrics.append(MetricFilter(match[1], term.op, number))
        return
    if term.kind == "field":
        if term.name not in FIELDS:
            raise InvalidInput(
                f"invalid query term {token!r}: unknown field {term.name!r} "
                f"(use {', '.join(FIELDS)})"
            )
        _add_field(query, token, term.name, term.value)
        return
    if not term.quoted and not _WORD.match(term.value):
        raise InvalidInput(f"invalid query term {token!r}: words hold letters, digits, _ . - @ /")
    query.words.append(term.value.lower())


def _add_field(query: Query, token: str, name: str, value: str) -> None:
    value = value.strip()
    if not value:
        raise InvalidInput(f"invalid query term {token!r}: {name}: needs a value")
    if name in query.fields and query.fields[name] != value:
        raise InvalidInput(f"invalid query term {token!r}: {name}: is given twice")
    if name == "version" and not re.match(r"^[1-9]\d{0,9}$", value):
        raise InvalidInput(f"invalid query term {token!r}: version is a number like 3")
    if name == "type" and value not in MODEL_TYPES:
        raise InvalidInput(f"invalid query term {token!r}: type is {' or '.join(MODEL_TYPES)}")
    if name == "champion" and value not in CHAMPION_VALUES:
        raise InvalidInput(
            f"invalid query term {token!r}: champion is {', '.join(CHAMPION_VALUES)}"
        )
    if name == "digest" and not re.match(r"^[0-9a-f]{4,64}$", value):
        raise InvalidInput(f"invalid query term {token!r}: digest is 4-64 hex characters")
    if name == "table":
        value = value.lower()
    query.fields[name] = value
