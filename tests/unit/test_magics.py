"""``%mlp`` through a real IPython shell: routing, help, status and clean usage errors."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError
from IPython.testing.globalipapp import get_ipython

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.kernel.magics import MLPMagics


@pytest.fixture(scope="module")
def shell():
    ip = get_ipython()
    ip.register_magics(MLPMagics(ip, config=MLPlat(env={"MLP_USER": "ada"})))
    return ip


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("", "needs a command"),
        ("nonsense", "unknown command 'nonsense'"),
        ("status extra", "takes no arguments"),
        ("status 'open", "cannot parse"),
        ("help a b", "at most one"),
        ("help nonsense", "unknown command"),
    ],
)
def test_bad_lines_raise_usage_errors(shell, line, message):
    with pytest.raises(UsageError, match=message) as err:
        shell.run_line_magic("mlp", line)
    assert "\n" not in str(err.value)


def test_line_commands_refuse_a_cell_body(shell):
    with pytest.raises(UsageError, match="line magic"):
        shell.run_cell_magic("mlp", "status", "body")


def test_help_lists_commands(shell, capsys):
    shell.run_line_magic("mlp", "help")
    out = capsys.readouterr().out
    assert "status" in out and "help" in out


def test_status_without_tracking_server_says_so(shell):
    report = shell.run_line_magic("mlp", "status")
    text = repr(report)
    assert "not configured" in text and "user ada" in text
    assert "<table" in report._repr_html_()


def test_platform_errors_become_one_line_in_the_router(shell):
    """A service error reaches the user once, as ``%mlp <command>: <message>``."""
    ip = shell
    ip.register_magics(MLPMagics(ip, config=MLPlat(env={"MLP_SPARK_MODE": "none"})))
    try:
        with pytest.raises(UsageError, match=r"^%mlp spark: Spark is turned off") as err:
            ip.run_line_magic("mlp", "spark attach")
        assert "\n" not in str(err.value)
    finally:
        ip.register_magics(MLPMagics(ip, config=MLPlat(env={"MLP_USER": "ada"})))
