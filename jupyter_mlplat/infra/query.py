"""The platform's one query language, as a grammar: ``metric.rmse < 50 table:demo.iris OR iris``.

Services give it meaning (which fields exist, where each term is answered): the one search
(:mod:`jupyter_mlplat.search`) and the reports index (:mod:`jupyter_mlplat.reports.query`) both
parse with :func:`parse` and check the terms against their own vocabulary.

Grammar (terms separated by whitespace; terms of a clause all hold, ``OR`` joins clauses)::

    query      := clause ("OR" clause)*
    clause     := term+
    term       := comparison | field | word
    comparison := NAME OP VALUE          metric.rmse < 50, param.C>=1, tag.team = "fraud ops"
    field      := NAME ":" VALUE         kind:model|version, table:demo.iris, name:"my model"
    word       := WORD | QUOTED          iris, "sepal length"

``OP`` is one of ``< <= > >= = !=``; spaces around it are optional. Quotes (``"`` or ``'``)
make one value or word of text with spaces. A malformed query raises :class:`QueryError` (an
``InvalidInput``) saying at which character and which token.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Literal

from jupyter_mlplat.errors import InvalidInput

MAX_QUERY_LENGTH = 500
MAX_TERMS = 30
OPERATORS = ("<=", ">=", "!=", "<", ">", "=")
_OPERATOR_CHARS = "<>=!"
_QUOTES = "\"'"
_STOP = _OPERATOR_CHARS + _QUOTES + "()"
_NAME = re.compile(r"^[A-Za-z_][\w\-]*(\.[\w\-.]+)?$")
_FIELD = re.compile(r"^[A-Za-z_][\w\-]*(\.[\w\-.]+)?$")
_NUMBER = re.compile(r"^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

TermKind = Literal["word", "field", "compare"]


class QueryError(InvalidInput):
    """A malformed query: one line naming the character position (1-based) and the token."""

    def __init__(self, message: str, position: int, token: str = "") -> None:
        self.position = position
        self.token = token
        where = f"at character {position + 1}" + (f" ({token!r})" if token else "")
        super().__init__(f"invalid query {where}: {message}")


@dataclass(frozen=True)
class Term:
    """One term: a free word, ``name:value`` or ``name <op> value``.

    ``position`` is where it starts in the query (0-based); ``text`` is it as written (a
    comparison without its spaces: ``metric.rmse<50``).
    """

    kind: TermKind
    value: str
    name: str = ""
    op: str = ""
    position: int = 0
    text: str = ""
    quoted: bool = False

    @property
    def number(self) -> float | None:
        """``value`` as a number, or None when it is not one."""
        return float(self.value) if _NUMBER.match(self.value) else None

    def error(self, message: str) -> QueryError:
        """A :class:`QueryError` pointing at this term."""
        return QueryError(message, self.position, self.text)


@dataclass
class Clause:
    """Terms that must all hold (``after_or``: where the OR before it stands, else -1)."""

    terms: list[Term] = field(default_factory=list)
    after_or: int = -1


@dataclass
class Query:
    """Clauses joined by OR; no clauses means an empty query."""

    text: str = ""
    clauses: list[Clause] = field(default_factory=list)

    @property
    def empty(self) -> bool:
        return not self.clauses


@dataclass(frozen=True)
class _Token:
    kind: Literal["word", "quoted", "op"]
    text: str  # the value (quotes removed)
    position: int
    end: int  # one past the last character, quotes included
    raw: str  # as written


def _lex(text: str) -> list[_Token]:
    tokens: list[_Token] = []
    i, n = 0, len(text)
    while i < n:
        ch = text[i]
        if ch.isspace():
            i += 1
        elif ch in _QUOTES:
            close = text.find(ch, i + 1)
            if close < 0:
                raise QueryError(f"the quote {ch} is never closed", i, text[i : i + 20])
            tokens.append(_Token("quoted", text[i + 1 : close], i, close + 1, text[i : close + 1]))
            i = close + 1
        elif ch in _OPERATOR_CHARS:
            j = i
            while j < n and text[j] in _OPERATOR_CHARS:
                j += 1
            op = text[i:j]  # checked by the parser, which can name the whole comparison
            tokens.append(_Token("op", op, i, j, op))
            i = j
        elif ch in "()":
            raise QueryError("parentheses are not supported (terms AND, OR between them)", i, ch)
        else:
            j = i
            while j < n and not text[j].isspace() and text[j] not in _STOP:
                j += 1
            if j < n and text[j] in _QUOTES and text[j - 1] != ":":
                raise QueryError(
                    "a quote may only start a term or follow name:", j, text[i : j + 1]
                )
            tokens.append(_Token("word", text[i:j], i, j, text[i:j]))
            i = j
    return tokens


def parse(text: str) -> Query:
    """Parse a query into clauses of terms; :class:`QueryError` at the first malformed token."""
    text = text or ""
    if len(text) > MAX_QUERY_LENGTH:
        raise QueryError(
            f"the query is too long (at most {MAX_QUERY_LENGTH} characters)", MAX_QUERY_LENGTH
        )
    tokens = _lex(text)
    query = Query(text=text.strip())
    clause = Clause()
    last_or: _Token | None = None
    count = 0
    i = 0
    while i < len(tokens):
        token = tokens[i]
        if token.kind == "word" and token.text == "OR":
            if not clause.terms:
                raise QueryError("OR needs a term before it", token.position, "OR")
            query.clauses.append(clause)
            clause, last_or = Clause(after_or=token.position), token
            i += 1
            continue
        term, i = _term(tokens, i, text)
        clause.terms.append(term)
        count += 1
        if count > MAX_TERMS:
            raise term.error(f"the query has too many terms (at most {MAX_TERMS})")
    if clause.terms:
        query.clauses.append(clause)
    elif last_or is not None:
        raise QueryError("OR needs a term after it", last_or.position, "OR")
    return query


def _term(tokens: list[_Token], i: int, text: str) -> tuple[Term, int]:
    """The term starting at ``tokens[i]`` and the index after it."""
    token = tokens[i]
    following = tokens[i + 1] if i + 1 < len(tokens) else None
    if token.kind == "op":
        raise QueryError(
            "a comparison needs a field before it (e.g. metric.rmse < 50)",
            token.position,
            token.raw,
        )
    if token.kind == "word" and following is not None and following.kind == "op":
        if not _NAME.match(token.text):
            raise QueryError(
                "this cannot be compared (use a field like metric.rmse)", token.position, token.text
            )
        operand = tokens[i + 2] if i + 2 < len(tokens) else None
        if operand is None or operand.kind == "op" or operand.raw == "OR":
            raise QueryError(
                f"{following.text} needs a value after it", following.position, following.raw
            )
        # shown without spaces: one token whether it was written "a<1" or "a < 1"
        compact = token.text + following.text + operand.raw
        if following.text not in OPERATORS:
            raise QueryError(
                f"unknown operator {following.text!r} (use {' '.join(OPERATORS)})",
                token.position,
                compact,
            )
        term = Term(
            "compare",
            operand.text,
            token.text,
            following.text,
            token.position,
            compact,
            operand.kind == "quoted",
        )
        return term, i + 3
    if token.kind == "quoted":
        return Term("word", token.text, position=token.position, text=token.raw, quoted=True), i + 1
    name, colon, value = token.text.partition(":")
    if colon and name:
        if not _FIELD.match(name):
            raise QueryError(
                "a field name holds letters, digits, _ - .", token.position, token.text
            )
        if (
            not value
            and following is not None
            and following.kind == "quoted"
            and following.position == token.end
        ):
            raw = text[token.position : following.end]
            return Term("field", following.text, name, ":", token.position, raw, True), i + 2
        if not value:
            raise QueryError(f"{name}: needs a value", token.position, token.text)
        return Term("field", value, name, ":", token.position, token.text), i + 1
    return Term("word", token.text, position=token.position, text=token.text), i + 1
