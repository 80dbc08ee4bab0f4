"""``mlplat``'s command line describes itself; its console shows progress people can follow."""

from __future__ import annotations

import io
import re

import pytest

from jupyter_mlplat._version import __version__
from jupyter_mlplat.platform import cli
from jupyter_mlplat.platform.console import Console

SUBCOMMANDS = ["up", "hub", "status", "stop", "serving-env"]


def help_of(capsys: pytest.CaptureFixture[str], *argv: str) -> str:
    with pytest.raises(SystemExit) as exit_:
        cli.main([*argv, "--help"])
    assert exit_.value.code == 0
    return " ".join(capsys.readouterr().out.split())  # one line: wrapping does not matter


def test_mlplat_help_names_the_state_dir_ctrl_c_lab_options_and_version(capsys):
    text = help_of(capsys)
    assert "--state-dir" in text and "$MLP_STATE_DIR" in text
    assert "~/.local/share/jupyter-mlplat" in text and "platform.json" in text
    assert "Ctrl-C" in text and "mlplat stop" in text
    assert "--version" in text and "-- --ServerApp.allow_origin" in text
    for command in SUBCOMMANDS:
        assert re.search(rf"\b{command}\s+\w", text), command  # listed with its summary


@pytest.mark.parametrize("command", SUBCOMMANDS)
def test_every_subcommand_describes_itself(capsys, command):
    text = help_of(capsys, command)
    assert text.startswith(f"usage: mlplat {command}")
    description = text.split("options:")[0]
    assert len(description.split()) > 25, description  # more than a usage line
    assert "state directory" in text


def test_up_help_says_ctrl_c_and_lab_options_after_double_dash(capsys):
    text = help_of(capsys, "up")
    assert "Ctrl-C" in text and "-- LAB_OPTION" in text and "JupyterLab options go after --" in text


def test_version(capsys):
    with pytest.raises(SystemExit):
        cli.main(["--version"])
    assert capsys.readouterr().out.strip() == f"mlplat (jupyter-mlplat) {__version__}"


def test_lab_options_after_double_dash_reach_jupyterlab():
    args = cli.parser().parse_args(["up", "--port", "8888", "--", "--ServerApp.allow_origin=*"])
    assert args.port == 8888 and args.lab_args == ["--ServerApp.allow_origin=*"]


def test_hub_without_its_extra_says_which(monkeypatch, capsys, tmp_path):
    monkeypatch.setattr(cli.importlib.util, "find_spec", lambda name: None)
    assert cli.main(["--state-dir", str(tmp_path), "hub"]) == 1
    err = capsys.readouterr().err
    assert (
        err.strip() == "mlplat: mlplat hub needs the hub extra: pip install 'jupyter-mlplat[hub]'"
    )


def test_hub_groups_are_parsed_before_anything_starts(capsys, tmp_path):
    assert cli._groups(["vision=ada, cy", "ops=bob", "vision=dee"]) == {
        "vision": ["ada", "cy", "dee"],
        "ops": ["bob"],
    }
    assert cli.main(["--state-dir", str(tmp_path), "hub", "--group", "vision"]) == 1
    err = capsys.readouterr().err.strip()
    assert err == "mlplat: --group 'vision': expected NAME=USER[,USER...]"
    assert not (tmp_path / "mlflow").exists()


class Terminal(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


class Pipe(io.StringIO):
    encoding = "ascii"


def test_console_on_a_pipe_prints_plain_lines():
    out = Pipe()
    console = Console(out)
    console.step("demo data: creating demo.iris (1/5)")
    console.ready("mlflow", 9.84, "http://127.0.0.1:5000")
    assert out.getvalue().splitlines() == [
        "  .. demo data: creating demo.iris (1/5)",
        "  ok mlflow        ready in  9.8 s  http://127.0.0.1:5000",
    ]  # ascii stream: no ✓


def test_console_on_a_terminal_updates_one_line_in_place():
    out = Terminal()
    console = Console(out)
    console.tick = 0.05
    console.step("demo data: warming the metastore")
    console.step("demo data: creating demo.iris (1/5)")
    console.ready("demo data", 12.3, "demo database (5 tables created)")
    text = out.getvalue()
    assert text.count("\n") == 1 and text.endswith("\n")  # one line in the end
    assert text.count("\r\x1b[K") >= 3
    assert text.rsplit("\r\x1b[K", 1)[1] == (
        "  ✓ demo data     ready in 12.3 s  demo database (5 tables created)\n"
    )
