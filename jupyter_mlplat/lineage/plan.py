"""Which catalog tables a Spark Connect request reads and writes, from its plan alone.

The DataFrame API names tables in the plan (``read.named_table``, a write's ``table_name``);
SQL arrives as text (a ``sql`` relation or a ``sql_command``). SQL text is read by a small
tokenizer (``FROM``/``JOIN``/``INTO``/``TABLE``/``USING`` ... and the names of ``WITH`` clauses left
out) rather than by asking Spark: asking would be a round trip per statement, and analyzing an
``INSERT`` through Connect runs it. Names are returned as written (quotes removed); the capture
qualifies bare names with the session's current database.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

#: Catalog prefix Spark accepts in front of ``db.table`` (dropped: one name per table).
_SESSION_CATALOG = "spark_catalog."


@dataclass(frozen=True)
class Tables:
    """Tables read and written by one request (each once, in order of appearance)."""

    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.inputs or self.outputs)

    def __or__(self, other: Tables) -> Tables:
        return Tables(_unique(self.inputs + other.inputs), _unique(self.outputs + other.outputs))


def _unique(names: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(dict.fromkeys(names))


def normalize(name: str) -> str:
    """``db.table`` from ``spark_catalog.db.table`` or ```db`.`table```, lower case (the
    metastore's names are case-insensitive)."""
    text = name.replace("`", "").strip().lower()
    return text.removeprefix(_SESSION_CATALOG)


# -- the plan ----------------------------------------------------------------------------------
def request_tables(request: Any) -> Tables:
    """The tables of an ``ExecutePlanRequest`` (or a ``Plan``); empty for anything else."""
    plan = getattr(request, "plan", request)
    if plan.HasField("root"):
        return _walk(plan.root)
    if plan.HasField("command"):
        return _walk(plan.command)
    return Tables()  # a compressed plan: not read (Spark compresses only very large plans)


def _walk(message: Any) -> Tables:
    inputs: list[str] = []
    outputs: list[str] = []
    stack = [message]
    while stack:
        node = stack.pop()
        kind = node.DESCRIPTOR.name
        if kind == "NamedTable":
            inputs.append(normalize(node.unparsed_identifier))
        elif kind in {"SQL", "SqlCommand"}:
            text = node.query if kind == "SQL" else node.sql
            found = sql_tables(text)
            inputs += found.inputs
            outputs += found.outputs
        elif kind in {"SaveTable", "WriteOperationV2"} and node.table_name:
            outputs.append(normalize(node.table_name))
        elif kind == "MergeIntoTableCommand" and node.target_table_name:
            outputs.append(normalize(node.target_table_name))
        children: list[Any] = []
        for field, value in node.ListFields():
            if field.message_type is None:
                continue
            if field.is_repeated:
                if not field.message_type.GetOptions().map_entry:  # maps: options, args
                    children.extend(value)
            else:
                children.append(value)
        stack.extend(reversed(children))  # depth first, in the plan's order
    return Tables(_unique(tuple(inputs)), _unique(tuple(outputs)))


# -- SQL text ----------------------------------------------------------------------------------
_TOKEN = re.compile(
    r"""
    (?P<skip>--[^\n]*|/\*.*?\*/|'(?:[^'\\]|\\.|'')*'|"(?:[^"\\]|\\.)*")   # comments, strings
    | (?P<name>(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*)(?:\s*\.\s*(?:`[^`]+`|[A-Za-z_][A-Za-z0-9_]*))*)
    | (?P<punct>[(),;])
    """,
    re.VERBOSE | re.DOTALL,
)
#: Keywords after which a table name follows, and whether that table is written.
_READ_AFTER = {"from", "join"}
_WRITE_AFTER = {"into", "overwrite"}
_TABLE_WRITES = {"create", "replace", "alter", "drop", "truncate", "insert", "cache", "refresh"}
#: Statements that name tables without reading or writing them (or only read metadata).
_METADATA_ONLY = {"show", "describe", "desc", "use", "set", "explain", "analyze", "drop"}
_VERBS = {
    "select", "insert", "create", "replace", "alter", "truncate", "cache", "refresh", "update",
    "merge", "delete", "from", "values", "table", "with",
} | _METADATA_ONLY  # fmt: skip
#: Words that can sit between the keyword and the name.
_FILLER = {"table", "if", "not", "exists", "only", "lateral", "view", "temporary", "temp"}
#: Words that cannot be table names (so ``FROM (`` / ``JOIN LATERAL`` etc. are skipped).
_KEYWORDS = {
    "select", "where", "group", "order", "by", "on", "as", "with", "values", "set", "join",
    "left", "right", "inner", "outer", "full", "cross", "semi", "anti", "natural", "union",
    "limit", "having", "partition", "table", "from", "into", "overwrite", "using", "lateral",
}  # fmt: skip


def sql_tables(text: str) -> Tables:
    """The tables ``text`` (one or more SQL statements) reads and writes."""
    words = [
        (m.lastgroup or "", m.group(m.lastgroup or ""))
        for m in _TOKEN.finditer(text or "")
        if m.lastgroup != "skip"
    ]
    ctes = _cte_names(words)
    found: dict[str, list[str]] = {"read": [], "write": []}
    verb = ""
    i = 0
    while i < len(words):
        kind, value = words[i]
        lower = value.lower()
        if kind == "punct":
            verb = "" if value == ";" else verb
            i += 1
            continue
        if (not verb or verb == "with") and lower in _VERBS:
            verb = lower
        target = None if verb in _METADATA_ONLY else _target(words, i, lower, verb)
        if target is None:
            i += 1
            continue
        j = i + 1
        while j < len(words) and words[j][0] == "name" and words[j][1].lower() in _FILLER:
            j += 1
        if target == "rename":  # ALTER TABLE a RENAME TO b: b now holds what was written to a
            j += 1 if j < len(words) and words[j][1].lower() == "to" else 0
            target = "write"
        if j < len(words) and words[j][0] == "name" and not (verb == "alter" and lower == "table"):
            # (ALTER TABLE x ...: a change of x only when renamed, handled above)
            bare = words[j][1].lower()
            # a table-valued function reads no table (CREATE TABLE t (...) lists columns)
            call = target == "read" and j + 1 < len(words) and words[j + 1][1] == "("
            if bare not in _KEYWORDS and bare not in ctes and not call:
                found[target].append(normalize(words[j][1]))
        i = max(j, i + 1)
    return Tables(_unique(tuple(found["read"])), _unique(tuple(found["write"])))


def _target(words: list[tuple[str, str]], i: int, lower: str, verb: str) -> str | None:
    """What the name after word ``i`` is: read, write, rename (the new name) or nothing."""
    if lower == "from" and i > 0 and words[i - 1][1].lower() == "delete":
        return "write"
    if lower in _READ_AFTER or (lower == "using" and verb == "merge"):
        return "read"
    if lower in _WRITE_AFTER or (lower == "update" and verb == "update"):
        return "write"
    if lower == "table" and verb in _TABLE_WRITES:
        return "read" if verb in ("cache", "refresh") else "write"
    if lower == "rename" and verb == "alter":
        return "rename"
    return None


def _cte_names(words: list[tuple[str, str]]) -> set[str]:
    """Names defined by ``WITH name AS (`` / ``, name AS (`` (not tables)."""
    names = set()
    for k in range(len(words) - 2):
        kind, value = words[k]
        if kind != "name" or words[k + 1][1].lower() != "as" or words[k + 2][1] != "(":
            continue
        before = words[k - 1][1].lower() if k > 0 else ""
        if before in ("with", ",", "recursive"):
            names.add(value.lower())
    return names
