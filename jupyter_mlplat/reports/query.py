"""The reports' query language: ``metric.f1_score > 0.9 table:demo.iris model:iris words``.

Tokens are separated by whitespace and all must hold (AND):

* ``metric.<name> <op> <number>`` (or without spaces, ``metric.r2_score>=0.5``), op one of
  ``> >= < <= =``;
* ``table:<db.table>``, ``model:<name>``, ``version:<n>``, ``type:classifier|regressor``,
  ``digest:<hex prefix>``, ``champion:better|worse|same|none``;
* any other word is free text, matched against the report's model, table, label and type.

A malformed token raises InvalidInput naming it, so a typo never silently widens a search.
"""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass, field

from jupyter_mlplat.errors import InvalidInput

MAX_QUERY_LENGTH = 500
MAX_TOKENS = 20
OPERATORS = (">=", "<=", ">", "<", "=")
FIELDS = ("table", "model", "version", "type", "digest", "champion")
MODEL_TYPES = ("classifier", "regressor")
CHAMPION_VALUES = ("better", "worse", "same", "none")

_METRIC = re.compile(r"^metric\.([A-Za-z_][\w.\-]*?)\s*(>=|<=|>|<|=)\s*(.+)$")
_METRIC_NAME = re.compile(r"^metric\.([A-Za-z_][\w.\-]*)$")
_WORD = re.compile(r"^[\w.\-@/]+$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


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
    try:
        tokens = shlex.split(text)
    except ValueError as err:
        raise InvalidInput(f"invalid query {text!r}: {err}") from None
    tokens = _join_comparisons(tokens)
    if len(tokens) > MAX_TOKENS:
        raise InvalidInput(f"the query has too many terms (at most {MAX_TOKENS})")
    query = Query()
    for token in tokens:
        _add(query, token)
    return query


def _join_comparisons(tokens: list[str]) -> list[str]:
    """``metric.x`` ``>`` ``0.9`` (or ``metric.x>`` ``0.9``, ``metric.x`` ``>0.9``) → one term:
    a metric term takes up to two following tokens until it is a whole comparison."""
    joined: list[str] = []
    i = 0
    while i < len(tokens):
        token = tokens[i]
        i += 1
        if token.startswith("metric."):
            for _ in range(2):
                if _complete(token) or i >= len(tokens):
                    break
                if not (tokens[i][:1] in "<>=" or token[-1:] in "<>="):
                    break
                token += tokens[i]
                i += 1
        joined.append(token)
    return joined


def _complete(token: str) -> bool:
    match = _METRIC.match(token)
    return bool(match and _NUMBER.match(match[3].strip()))


def _add(query: Query, token: str) -> None:
    if token.startswith("metric."):
        match = _METRIC.match(token)
        if not match or not _NUMBER.match(match[3].strip()):
            raise InvalidInput(
                f"invalid query term {token!r}: use metric.<name> <op> <number> "
                f"with op one of {' '.join(OPERATORS)}"
            )
        query.metrics.append(MetricFilter(match[1], match[2], float(match[3])))
        return
    if token[:1] in "<>=" or token[-1:] in "<>=":
        raise InvalidInput(f"invalid query term {token!r}: comparisons need metric.<name>")
    name, colon, value = token.partition(":")
    if colon and name in FIELDS:
        _add_field(query, token, name, value)
        return
    if colon and re.match(r"^\w+$", name):
        raise InvalidInput(
            f"invalid query term {token!r}: unknown field {name!r} (use {', '.join(FIELDS)})"
        )
    if not _WORD.match(token):
        raise InvalidInput(f"invalid query term {token!r}: words hold letters, digits, _ . - @ /")
    query.words.append(token.lower())


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
