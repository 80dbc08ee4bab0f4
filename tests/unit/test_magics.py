"""``%mlp`` through a real IPython shell: routing, help, status and clean usage errors."""

from __future__ import annotations

import pytest
from IPython.core.error import UsageError

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.kernel.magics import MLPMagics


@pytest.fixture(scope="module")
def shell(ipython_shell):
    ip = ipython_shell
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
    assert "none (the tracking server has no users)" in text
    assert "<table" in report._repr_html_()


@pytest.mark.parametrize("command", ["check", "checks", "deploy", "predict", "undeploy", "spark"])
def test_help_of_a_command_shows_its_options_with_their_help(shell, capsys, command):
    shell.run_line_magic("mlp", f"help {command}")
    out = capsys.readouterr().out
    assert out.startswith("usage: %") and f"mlp {command}" in out.splitlines()[0]
    assert "options:" in out and "-h, --help" in out


def test_help_texts_of_the_arguments_are_shown(shell, capsys):
    shell.run_line_magic("mlp", "help check")
    out = capsys.readouterr().out
    assert "usage: %%mlp check" in out
    assert "run a saved suite (plus the cell's own lines)" in out  # a help= text
    assert "do not log to MLflow" in out
    assert "short syntax" in out  # the module's notes on the cell body
    shell.run_line_magic("mlp", "help deploy")
    deploy = capsys.readouterr().out
    assert "models:/<name>@<alias>" in deploy and "--canary PERCENT" in deploy


@pytest.mark.parametrize("flag", ["-h", "--help"])
def test_dash_h_prints_the_same_help_and_never_exits(shell, capsys, flag):
    shell.run_line_magic("mlp", "help predict")
    expected = capsys.readouterr().out
    # after a model URI too: -h wins, nothing runs, no SystemExit reaches the kernel
    assert shell.run_line_magic("mlp", f"predict models:/m/1 {flag}") is None
    assert capsys.readouterr().out == expected
    shell.run_cell_magic("mlp", f"check df {flag}", "id: unique")
    assert "usage: %%mlp check" in capsys.readouterr().out


def test_dash_h_through_run_cell_leaves_the_shell_alive(shell, capsys):
    result = shell.run_cell("%mlp deploy -h")
    assert result.success and result.error_in_exec is None
    assert "usage: %mlp deploy" in capsys.readouterr().out
    assert shell.run_cell("1 + 1").result == 2


def test_commands_without_arguments_still_describe_themselves(shell, capsys):
    shell.run_line_magic("mlp", "status -h")
    out = capsys.readouterr().out
    assert "usage: %mlp status [-h]" in out and "show tracking, experiment" in out


def test_a_parser_never_raises_system_exit(capsys):
    from jupyter_mlplat.kernel.commands.deploy import parser

    with pytest.raises(UsageError, match="mlp deploy"):
        parser().parse_args(["-h"])  # argparse prints, then would exit: a UsageError instead
    assert "usage: %mlp deploy" in capsys.readouterr().out
    with pytest.raises(UsageError, match="the following arguments are required"):
        parser().parse_args([])


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
