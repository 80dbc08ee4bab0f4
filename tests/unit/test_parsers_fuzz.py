"""Hypothesis over what users type: every ``%mlp`` command's parser, the magic's router and the
quality spec. Any input either parses or fails with one line (``UsageError`` in the magics,
``InvalidInput`` in the spec) — never another exception, a traceback-sized message or an exit."""

from __future__ import annotations

import importlib
import string

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from IPython.core.error import UsageError

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.kernel.commands import COMMANDS
from jupyter_mlplat.kernel.magics import MLPMagics
from jupyter_mlplat.quality import spec
from jupyter_mlplat.quality.spec import COLUMN_RULES, TABLE_RULES

FUZZ = settings(
    max_examples=150,
    deadline=None,
    derandomize=True,  # the same cases on every run: CI is reproducible
    suppress_health_check=[HealthCheck.too_slow],
)
PARSERS = {
    name: module.parser
    for name, command in COMMANDS.items()
    if hasattr(module := importlib.import_module(command.module), "parser")
}
WORDS = st.one_of(
    st.text(string.ascii_letters + string.digits + "_-.:/=<>@%", max_size=12),
    st.text(max_size=8),  # any unicode, control characters included
    st.sampled_from(["--", "-", "--=", "-x", "--nope", "0", "-1", "1e309", "nan", "''"]),
    st.integers(-(10**20), 10**20).map(str),
    st.floats(allow_nan=True).map(str),
)


def options(parser) -> list[str]:
    return [
        o for action in parser._actions for o in action.option_strings if o not in ("-h", "--help")
    ]


def one_line(error: Exception) -> None:
    text = str(error)
    assert text and "\n" not in text.strip() and len(text) < 600, text


@pytest.mark.parametrize("name", sorted(PARSERS))
@FUZZ
@given(data=st.data())
def test_a_command_parses_or_fails_with_one_line(name, data):
    parser = PARSERS[name]()
    word = st.one_of(WORDS, st.sampled_from(options(parser) or ["--x"]))
    args = data.draw(st.lists(word, max_size=8))
    try:
        parser.parse_args(args)
    except UsageError as err:
        one_line(err)


@pytest.fixture(scope="module")
def shell(ipython_shell):
    ipython_shell.register_magics(MLPMagics(ipython_shell, config=MLPlat(env={"MLP_USER": "ada"})))
    return ipython_shell


NOT_COMMANDS = st.text(min_size=1, max_size=12).filter(
    lambda w: w.split()[:1] not in [[c] for c in COMMANDS]
)


@FUZZ
@given(
    line=st.one_of(
        NOT_COMMANDS,
        st.builds(
            lambda c, rest: f"{c} {rest}",
            st.sampled_from(sorted(COMMANDS)),
            st.sampled_from(["'", '"', "a 'b", '"x']),
        ),
        st.builds(lambda rest: f"help {rest}", st.text(max_size=20)),
        st.builds(
            lambda rest: f"status {rest}", st.text(min_size=1, max_size=20).filter(str.strip)
        ),
    )
)
def test_the_router_answers_malformed_lines_with_one_line(shell, line):
    try:
        shell.run_line_magic("mlp", line)
    except UsageError as err:
        one_line(err)


SPEC_WORDS = st.one_of(
    st.sampled_from(sorted(COLUMN_RULES) + sorted(TABLE_RULES) + ["suite", "ExpectColumnToExist("]),
    st.sampled_from(
        [":", ",", "=", "<", ">=", "between", "and", "in", "[", "]", "'", '"', "`", "#", "(", ")"]
    ),
    st.text(string.ascii_letters + string.digits + "_ .-", max_size=10),
    st.floats(allow_nan=True).map(str),
    st.text(max_size=6),
)


@FUZZ
@given(lines=st.lists(st.lists(SPEC_WORDS, max_size=7).map(" ".join), max_size=4))
def test_the_quality_spec_parses_or_fails_with_one_line(lines):
    try:
        parsed = spec.parse("\n".join(lines))
    except InvalidInput as err:
        one_line(err)
    else:
        for expectation in parsed.expectations:
            assert spec.parse(expectation.to_line()).expectations == [expectation]
