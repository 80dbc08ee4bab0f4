"""The short expectation syntax of ``%%mlp check`` cells and suite files, parsed into specs.

One line per target, checks separated by commas::

    order_id: not_null, unique
    amount: between 0 10000, mean between 10 500
    country: in [DE, FR, PL]
    email: regex "^[^@]+@[^@]+$" mostly=0.99
    rows: between 1000 1e6
    columns: [order_id, amount, country]
    suite: orders                      # include a saved suite
    ExpectColumnValuesToBeInSet(column="country", value_set=["DE"])   # any GX expectation

Pure Python: nothing here imports great_expectations.
"""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlplat.errors import InvalidInput

#: Targets that name the table rather than a column (a column with such a name: `rows`).
TABLE_TARGETS = ("rows", "columns")


@dataclass(frozen=True)
class Rule:
    """A short check name: its GX expectation class and the arguments it takes."""

    gx_type: str
    args: tuple[str, ...] = ()  # GX keyword of each positional argument
    kinds: tuple[str, ...] = ()  # number | int | list | string, one per argument
    usage: str = ""
    per_row: bool = True  # a column-map expectation: failing rows can be shown
    extra: tuple[tuple[str, Any], ...] = ()  # fixed GX keywords


def _rule(gx_type: str, usage: str, *args: tuple[str, str], **kwargs: Any) -> Rule:
    return Rule(
        gx_type,
        tuple(a for a, _ in args),
        tuple(k for _, k in args),
        usage,
        **kwargs,
    )


#: Column checks. ``min``/``max``/``mean`` bound an aggregate; the others hold for every row.
COLUMN_RULES: dict[str, Rule] = {
    "not_null": _rule("ExpectColumnValuesToNotBeNull", "not_null"),
    "null": _rule("ExpectColumnValuesToBeNull", "null"),
    "unique": _rule("ExpectColumnValuesToBeUnique", "unique"),
    "between": _rule(
        "ExpectColumnValuesToBeBetween",
        "between <min> <max>",
        ("min_value", "number"),
        ("max_value", "number"),
    ),
    "in": _rule("ExpectColumnValuesToBeInSet", "in [a, b, ...]", ("value_set", "list")),
    "not_in": _rule("ExpectColumnValuesToNotBeInSet", "not_in [a, b, ...]", ("value_set", "list")),
    "regex": _rule("ExpectColumnValuesToMatchRegex", "regex <pattern>", ("regex", "string")),
    "match": _rule("ExpectColumnValuesToMatchRegex", "match <pattern>", ("regex", "string")),
    "type": _rule(
        "ExpectColumnValuesToBeOfType", "type <name>", ("type_", "string"), per_row=False
    ),
    "length between": _rule(
        "ExpectColumnValueLengthsToBeBetween",
        "length between <min> <max>",
        ("min_value", "int"),
        ("max_value", "int"),
    ),
    "length =": _rule("ExpectColumnValueLengthsToEqual", "length = <n>", ("value", "int")),
    "min between": _rule(
        "ExpectColumnMinToBeBetween",
        "min between <low> <high>",
        ("min_value", "number"),
        ("max_value", "number"),
        per_row=False,
    ),
    "max between": _rule(
        "ExpectColumnMaxToBeBetween",
        "max between <low> <high>",
        ("min_value", "number"),
        ("max_value", "number"),
        per_row=False,
    ),
    "mean between": _rule(
        "ExpectColumnMeanToBeBetween",
        "mean between <low> <high>",
        ("min_value", "number"),
        ("max_value", "number"),
        per_row=False,
    ),
}

#: Table checks: ``rows: ...`` and ``columns: ...``.
TABLE_RULES: dict[str, dict[str, Rule]] = {
    "rows": {
        "between": _rule(
            "ExpectTableRowCountToBeBetween",
            "rows: between <min> <max>",
            ("min_value", "int"),
            ("max_value", "int"),
            per_row=False,
        ),
        "=": _rule("ExpectTableRowCountToEqual", "rows: = <n>", ("value", "int"), per_row=False),
    },
    "columns": {
        "=": _rule(
            "ExpectTableColumnsToMatchSet",
            "columns: [a, b, ...]",
            ("column_set", "list"),
            per_row=False,
            extra=(("exact_match", True),),
        ),
        "include": _rule(
            "ExpectTableColumnsToMatchSet",
            "columns: include [a, b, ...]",
            ("column_set", "list"),
            per_row=False,
            extra=(("exact_match", False),),
        ),
    },
}

#: Keyword options any column check may end with (``mostly=0.95``).
OPTIONS = {"mostly": "number"}


def supported() -> str:
    """The short forms, for error messages and help."""
    column = ", ".join(rule.usage for rule in COLUMN_RULES.values())
    table = ", ".join(rule.usage for rules in TABLE_RULES.values() for rule in rules.values())
    return (
        f"column checks: {column}; table checks: {table}; "
        "options: mostly=<0..1>; or a GX class: ExpectColumnValuesToBeInSet(column=..., ...)"
    )


@dataclass(frozen=True)
class ExpectationSpec:
    """One expectation: its GX class and keyword arguments, plus the short form it came from."""

    gx_type: str
    column: str | None = None  # None for table expectations
    kwargs: tuple[tuple[str, Any], ...] = ()
    check: str = ""  # the short check name (``between``), empty for raw GX expectations
    table: str = ""  # ``rows`` or ``columns`` for short table checks
    per_row: bool = False  # a column-map expectation: failing rows can be shown

    @property
    def arguments(self) -> dict[str, Any]:
        """The GX keyword arguments, ``column`` included."""
        args = dict(self.kwargs)
        if self.column is not None:
            args = {"column": self.column, **args}
        return {k: list(v) if isinstance(v, tuple) else v for k, v in args.items()}

    def to_line(self) -> str:
        """This expectation in the short syntax (what suite files store)."""
        if not self.check:
            args = ", ".join(f"{k}={_literal(v)}" for k, v in self.arguments.items())
            return f"{self.gx_type}({args})"
        rule = TABLE_RULES[self.table][self.check] if self.table else COLUMN_RULES[self.check]
        options = dict(self.kwargs)
        words = [] if (self.table, self.check) == ("columns", "=") else [self.check]
        words += [_token(options.pop(name)) for name in rule.args]
        for name, _ in rule.extra:
            options.pop(name, None)
        words += [f"{k}={_token(v)}" for k, v in options.items()]
        target = self.table or self.column or ""
        if not self.table and (target in TABLE_TARGETS or not _PLAIN_COLUMN.match(target)):
            target = f"`{target}`"
        return f"{target}: {' '.join(words)}"

    def __str__(self) -> str:
        return self.to_line()


_PLAIN_COLUMN = re.compile(r"^[^:,#`\"'\s][^:,#`\"']*(?<!\s)$")


@dataclass
class ParsedCell:
    """What a cell body (or suite file) holds: expectations and the suites it includes."""

    expectations: list[ExpectationSpec] = field(default_factory=list)
    suites: list[str] = field(default_factory=list)


def parse(text: str) -> ParsedCell:
    """Parse the short syntax; raise :class:`InvalidInput` (one line) on the first bad line."""
    parsed = ParsedCell()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if not line:
            continue
        try:
            _parse_line(line, parsed)
        except InvalidInput as err:
            raise InvalidInput(f"line {number} ({line!r}): {err}") from None
    return parsed


def _parse_line(line: str, parsed: ParsedCell) -> None:
    if re.match(r"^Expect[A-Za-z]+\s*\(", line):
        parsed.expectations.append(_parse_raw(line, None))
        return
    if re.match(r"^rows\s*=", line):  # ``rows = 100`` reads naturally too
        line = "rows: " + line[4:].strip()
    target, colon, body = line.partition(":")
    target = target.strip()
    if not colon or not target:
        raise InvalidInput("expected '<column>: <check>, ...' or 'suite: <name>'")
    if target == "suite":
        for name in _split(body):
            parsed.suites.append(validate_name(name.strip(), "suite"))
        return
    quoted = len(target) > 1 and target[0] == target[-1] and target[0] in "`\"'"
    column = target[1:-1] if quoted else target
    checks = _split(body)
    if not checks:
        raise InvalidInput(f"no check given for {column!r}. Supported: {supported()}")
    for check in checks:
        if not quoted and column in TABLE_RULES:
            parsed.expectations.append(_parse_table_check(column, check))
        else:
            parsed.expectations.append(_parse_column_check(column, check))


def _parse_column_check(column: str, check: str) -> ExpectationSpec:
    if re.match(r"^Expect[A-Za-z]+\s*\(", check):
        return _parse_raw(check, column)
    words = _words(check)
    name = words[0].lower()
    if len(words) > 1 and f"{name} {words[1]}".lower() in COLUMN_RULES:
        name, words = f"{name} {words[1]}".lower(), words[1:]
    rule = COLUMN_RULES.get(name)
    if rule is None:
        raise InvalidInput(f"unknown check {words[0]!r}. Supported: {supported()}")
    return _build(rule, name, column, words[1:])


def _parse_table_check(target: str, check: str) -> ExpectationSpec:
    rules = TABLE_RULES[target]
    words = _words(check)
    bare_list = target == "columns" and words[0].startswith("[")
    bare_count = target == "rows" and len(words) == 1 and _is_number(words[0])
    if bare_list or bare_count:  # ``columns: [a, b]`` and ``rows: 100``
        words = ["=", *words]
    name = words[0].lower()
    rule = rules.get(name)
    if rule is None:
        forms = ", ".join(r.usage for r in rules.values())
        raise InvalidInput(f"unknown {target} check {words[0]!r}. Supported: {forms}")
    return _build(rule, name, target, words[1:], table_check=True)


def _build(
    rule: Rule, check: str, column: str, words: list[str], table_check: bool = False
) -> ExpectationSpec:
    positional = [w for w in words if not _is_option(w)]
    options = [w for w in words if _is_option(w)]
    if len(positional) != len(rule.args):
        count = len(rule.args)
        need = "no arguments" if not count else f"{count} argument{'s' * (count > 1)}"
        raise InvalidInput(f"{check} takes {need}: {rule.usage}")
    kwargs: dict[str, Any] = {}
    for name, kind, word in zip(rule.args, rule.kinds, positional, strict=True):
        kwargs[name] = _convert(word, kind, rule.usage)
    low, high = kwargs.get("min_value"), kwargs.get("max_value")
    if isinstance(low, int | float) and isinstance(high, int | float) and low > high:
        raise InvalidInput(f"{check}: the minimum is larger than the maximum ({rule.usage})")
    kwargs.update(rule.extra)
    for option in options:
        key, _, value = option.partition("=")
        if key not in OPTIONS or not rule.per_row:
            allowed = ", ".join(OPTIONS) if rule.per_row else "none"
            raise InvalidInput(f"{check}: unknown option {key!r} (options: {allowed})")
        number = _convert(value, OPTIONS[key], f"{key}=<0..1>")
        if not 0 <= number <= 1:
            raise InvalidInput(f"{key} must be between 0 and 1, not {value}")
        kwargs[key] = number
    table = column if table_check else ""
    return ExpectationSpec(
        gx_type=rule.gx_type,
        column=None if table_check else column,
        kwargs=tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()),
        check=check,
        table=table,
        per_row=rule.per_row,
    )


def _parse_raw(text: str, column: str | None) -> ExpectationSpec:
    """``ExpectColumnValuesToBeInSet(column="c", value_set=[...])``: literal keyword args only."""
    try:
        call = ast.parse(text.strip(), mode="eval").body
        if not isinstance(call, ast.Call) or not isinstance(call.func, ast.Name) or call.args:
            raise ValueError("use keyword arguments")
        kwargs = {kw.arg: ast.literal_eval(kw.value) for kw in call.keywords if kw.arg}
    except (SyntaxError, ValueError) as err:
        raise InvalidInput(
            f"cannot read the GX expectation ({err}); write e.g. "
            "ExpectColumnValuesToBeInSet(column='c', value_set=['a', 'b'])"
        ) from None
    column = kwargs.pop("column", column)
    if column is not None and not isinstance(column, str):
        raise InvalidInput("column= must be a string")
    return ExpectationSpec(
        gx_type=call.func.id,
        column=column,
        kwargs=tuple((k, tuple(v) if isinstance(v, list) else v) for k, v in kwargs.items()),
    )


# -- tokens ----------------------------------------------------------------------------------
def _strip_comment(line: str) -> str:
    """Drop a ``# comment`` that is outside quotes and brackets."""
    depth, quote = 0, ""
    for i, char in enumerate(line):
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char == "#" and depth == 0 and (i == 0 or line[i - 1].isspace()):
            return line[:i]
    return line


def _split(text: str, separator: str = ",") -> list[str]:
    """Split on ``separator`` outside quotes and brackets."""
    parts: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in text:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char == separator and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(char)
    if quote or depth:
        raise InvalidInput("unbalanced quotes or brackets")
    parts.append("".join(current).strip())
    return [p for p in parts if p]


def _words(check: str) -> list[str]:
    """Words of one check; a quoted string or a bracketed list is one word."""
    words: list[str] = []
    current: list[str] = []
    depth, quote = 0, ""
    for char in check:
        if quote:
            quote = "" if char == quote else quote
        elif char in "\"'":
            quote = char
        elif char in "[({":
            depth += 1
        elif char in "])}":
            depth -= 1
        elif char.isspace() and depth == 0:
            if current:
                words.append("".join(current))
                current = []
            continue
        elif char == "=" and depth == 0 and not current:
            words.append("=")  # ``= 5`` and ``=5``
            continue
        current.append(char)
    if current:
        words.append("".join(current))
    return words


def _is_option(word: str) -> bool:
    return bool(re.match(r"^[A-Za-z_]+=", word))


def _is_number(word: str) -> bool:
    try:
        float(word)
    except ValueError:
        return False
    return True


def _convert(word: str, kind: str, usage: str) -> Any:
    if kind == "list":
        if not (word.startswith("[") and word.endswith("]")):
            raise InvalidInput(f"expected a list like [a, b], got {word!r} ({usage})")
        return [_scalar(item) for item in _split(word[1:-1])]
    if kind == "string":
        return _unquote(word)
    value = _scalar(word)
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise InvalidInput(f"expected a number, got {word!r} ({usage})")
    if kind == "int":
        if value != int(value):
            raise InvalidInput(f"expected a whole number, got {word!r} ({usage})")
        return int(value)
    return value


def _scalar(word: str) -> Any:
    """A number, true/false/null, or a string (quoted or bare)."""
    if word[:1] in "\"'":
        return _unquote(word)
    lowered = word.lower()
    if lowered in {"true", "false"}:
        return lowered == "true"
    if lowered in {"null", "none"}:
        return None
    try:
        return int(word)
    except ValueError:
        pass
    try:
        number = float(word)
    except ValueError:
        return word
    return int(number) if number.is_integer() and abs(number) < 2**53 else number


def _unquote(word: str) -> str:
    if len(word) > 1 and word[0] == word[-1] and word[0] in "\"'":
        return word[1:-1]
    return word


def _token(value: Any) -> str:
    """A value written back in the short syntax (parses to the same value)."""
    if isinstance(value, tuple | list):
        return "[" + ", ".join(_token(v) for v in value) + "]"
    if isinstance(value, str):
        plain = re.fullmatch(r"[A-Za-z_][\w.\-]*", value) and _scalar(value) == value
        return value if plain else _quote(value)
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    return repr(value)


def _quote(value: str) -> str:
    if '"' not in value:
        return f'"{value}"'
    if "'" not in value:
        return f"'{value}'"
    raise InvalidInput(f"cannot save a value holding both quote characters: {value}")


def _literal(value: Any) -> str:
    return repr(list(value) if isinstance(value, tuple) else value)


_NAME = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,99}$")


def validate_name(name: str, what: str = "name") -> str:
    """A suite or check name: letters, digits, ``_ . -`` (it becomes a file and metric name)."""
    if not _NAME.match(name):
        raise InvalidInput(
            f"invalid {what} {name!r}: use letters, digits, '_', '.' or '-' (at most 100)"
        )
    return name
