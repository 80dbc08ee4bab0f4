"""Where a cell's cursor asks for a catalog name: pure parsing for the catalog completer.

Three places are recognised:

* the string argument of ``.table("…``, ``.saveAsTable("…`` or ``.insertInto("…`` (any quote,
  string prefixes, triple quotes): the start of a ``db`` / ``db.name`` is a *table* prefix;
* the SQL in ``spark.sql("…``, and the body of a SQL cell (``%%sql``, or sparkmagic's
  ``%%spark -c sql``): after ``FROM``, ``JOIN``, ``INTO``, ``TABLE``, ``UPDATE`` (or a comma of a
  ``FROM`` list) a *table* prefix; in a ``SELECT`` list, ``WHERE``, ``ON``, ``… BY``, ``HAVING``
  or ``SET`` a *column* prefix among the statement's tables (the ones after the cursor count
  too), optionally qualified by an alias, a table name or ``db.table``.

Anything else (inside a SQL string or comment, an alias being typed, an f-string placeholder,
backtick-quoted names) is no catalog context: the completer then stays out of the way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

TABLE_CALLS = frozenset({"table", "saveAsTable", "insertInto"})

# `.table(` / `.sql(` and the opening quote of its first argument (a keyword name allowed).
_CALL = re.compile(
    r"\.(table|saveAsTable|insertInto|sql)\(\s*(?:\w+\s*=\s*)?[rRuUfFbB]{0,2}(\"\"\"|'''|\"|')"
)
_SQL_CELL = re.compile(
    r"\A\s*%%(?:sql\b|spark\b(?=[^\n]*(?:-c|--context)[ =]+sql\b))[^\n]*(?:\n|\Z)"
)
_FRAGMENT = re.compile(r"[A-Za-z0-9_.]*\Z")
_TABLE_PREFIX = re.compile(r"[A-Za-z0-9_]*(?:\.[A-Za-z0-9_]*)?")
_TOKEN = re.compile(r"[A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z_][A-Za-z0-9_]*)*|[(),]")
_COMMENTS = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)
_STRINGS = re.compile(r"'(?:[^'\\]|\\.)*'|\"(?:[^\"\\]|\\.)*\"", re.DOTALL)

#: A name after one of these is a table.
TABLE_KEYWORDS = frozenset({"FROM", "JOIN", "INTO", "TABLE", "UPDATE"})
#: Clauses whose expressions name columns.
COLUMN_CLAUSES = frozenset({"SELECT", "WHERE", "ON", "BY", "HAVING", "SET"})
#: Every clause keyword: the nearest one before the cursor says what is being written.
CLAUSES = TABLE_KEYWORDS | COLUMN_CLAUSES | {"LIMIT", "USING", "VALUES", "WINDOW"}
_PUNCTUATION = frozenset("(),")
#: Words that end a ``FROM`` item rather than alias it.
_NOT_ALIASES = CLAUSES | {
    "LEFT", "RIGHT", "FULL", "INNER", "OUTER", "CROSS", "SEMI", "ANTI", "NATURAL", "LATERAL",
    "GROUP", "ORDER", "CLUSTER", "DISTRIBUTE", "SORT", "UNION", "INTERSECT", "EXCEPT", "MINUS",
    "TABLESAMPLE", "PIVOT", "UNPIVOT", "QUALIFY", "OFFSET", "AS",
}  # fmt: skip


@dataclass(frozen=True)
class CatalogContext:
    """What the cursor is completing.

    ``fragment`` is the typed text the completions replace (``demo.ir``, ``i.sep``);
    for columns, ``tables`` are the candidate tables (``db.name`` or bare names)."""

    kind: Literal["table", "column"]
    fragment: str
    tables: tuple[str, ...] = ()

    @property
    def qualifier(self) -> str:
        """For columns: what stays before the column name (``i.``, ``demo.iris.``, or "")."""
        return self.fragment[: self.fragment.rfind(".") + 1] if self.kind == "column" else ""

    @property
    def prefix(self) -> str:
        """The start of the name being completed (a column's, or a whole ``db.name``)."""
        return self.fragment[len(self.qualifier) :]


def catalog_context(text: str, cursor: int) -> CatalogContext | None:
    """The catalog context at ``cursor`` (an offset in ``text``, a whole cell), or None."""
    sql_cell = _SQL_CELL.match(text)
    if sql_cell and cursor >= sql_cell.end():
        return sql_context(text[sql_cell.end() : cursor], text[cursor:])
    before = text[:cursor]
    literal = _open_literal(before)
    if literal is None:
        return None
    call, quote, start = literal
    body = before[start:]
    if call != "sql":
        return CatalogContext("table", body) if _TABLE_PREFIX.fullmatch(body) else None
    after = text[cursor:]
    end = after.find(quote)
    return sql_context(body, after if end < 0 else after[:end])


def _open_literal(before: str) -> tuple[str, str, int] | None:
    """The call, quote and body start of the string literal ``before`` ends inside, if it is
    the argument of a recognised call."""
    last = None
    for last in _CALL.finditer(before):  # noqa: B007 (the last match is wanted)
        pass
    if last is None:
        return None
    call, quote = last.group(1), last.group(2)
    body = before[last.end() :]
    if quote in body or (len(quote) == 1 and "\n" in body):
        return None  # that string was closed; the cursor is elsewhere
    return call, quote, last.end()


def sql_context(before: str, after: str) -> CatalogContext | None:
    """The catalog context of a cursor between ``before`` and ``after`` in SQL text."""
    before = before[before.rfind(";") + 1 :]  # the statement holding the cursor
    split = _split_fragment(before)
    if split is None:
        return None
    head, text = split
    words = [word.upper() for word in _TOKEN.findall(head)]
    previous = words[-1] if words else ""
    clause = _clause(words)
    if (
        previous in TABLE_KEYWORDS
        or (previous == "," and clause == "FROM")
        or words in (["DESC"], ["DESCRIBE"])
    ):
        return CatalogContext("table", text) if _TABLE_PREFIX.fullmatch(text) else None
    if clause not in COLUMN_CLAUSES or previous == "AS":
        return None
    statement = _STRINGS.sub("''", _COMMENTS.sub(" ", after.split(";", 1)[0]))
    tables = _column_tables(text, statement_tables(f"{head} {statement}"))
    return CatalogContext("column", text, tables) if tables else None


def _split_fragment(before: str) -> tuple[str, str] | None:
    """``before`` without comments and string contents, and the name being typed at its end;
    None inside a comment or a string, or when what is typed is no name."""
    line = before[before.rfind("\n") + 1 :]
    if "--" in line or before.count("/*") > before.count("*/"):
        return None
    head = _STRINGS.sub("''", _COMMENTS.sub(" ", before))
    if head.count("'") % 2 or head.count('"') % 2:
        return None
    match = _FRAGMENT.search(head)
    text = match[0] if match else ""
    head = head[: len(head) - len(text)]
    if text.startswith(".") or ".." in text or text[:1].isdigit() or head.endswith("`"):
        return None  # a number, a placeholder's attribute, a backtick-quoted name
    return head, text


def _clause(tokens: list[str]) -> str:
    """The nearest clause keyword before the end, skipping parenthesised groups."""
    depth = 0
    for word in reversed(tokens):
        if word == ")":
            depth += 1
        elif word == "(":
            depth = max(depth - 1, 0)
        elif depth == 0 and word in CLAUSES:
            return word
    return ""


def statement_tables(sql: str) -> dict[str, str]:
    """The tables a statement reads or writes: ``{alias or name (upper case): table}``."""
    tokens = _TOKEN.findall(sql)
    found: dict[str, str] = {}
    i = 0
    while i < len(tokens):
        if tokens[i].upper() not in TABLE_KEYWORDS - {"TABLE"}:
            i += 1
            continue
        i += 1
        while i < len(tokens) and tokens[i] not in _PUNCTUATION:  # an item of a FROM list
            table = tokens[i]
            if table.upper() in _NOT_ALIASES or table.count(".") > 1:
                break
            found.setdefault(table.rpartition(".")[2].upper(), table)
            i += 1
            if i < len(tokens) and tokens[i].upper() == "AS":
                i += 1
            alias = tokens[i] if i < len(tokens) else ","
            if alias not in _PUNCTUATION and alias.upper() not in _NOT_ALIASES:
                found[alias.upper()] = table
                i += 1
            if i < len(tokens) and tokens[i] == ",":
                i += 1
                continue
            break
    return found


def _column_tables(fragment: str, tables: dict[str, str]) -> tuple[str, ...]:
    """The tables whose columns complete ``fragment``: all of them, the one its qualifier
    names (an alias or a table's name), or the ``db.table`` it starts with."""
    qualifier = fragment.rpartition(".")[0]
    if not qualifier:
        return tuple(dict.fromkeys(tables.values()))
    if "." in qualifier:
        return (qualifier,)  # db.table.col
    table = tables.get(qualifier.upper())
    return (table,) if table else ()
