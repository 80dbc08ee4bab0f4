"""The ``%mlp`` subcommands. Each lives in its own module, imported only when first used."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import Any, NoReturn

from IPython.core.error import UsageError


@dataclass(frozen=True)
class Command:
    """A ``%mlp`` subcommand: the module implementing ``run(magics, args, cell)``."""

    module: str
    summary: str
    takes_cell: bool = False


COMMANDS: dict[str, Command] = {
    "check": Command(
        "jupyter_mlplat.kernel.commands.check",
        "validate a DataFrame against expectations or a saved suite",
        takes_cell=True,
    ),
    "checks": Command(
        "jupyter_mlplat.kernel.commands.checks", "recent data-quality results (filter, find)"
    ),
    "deploy": Command(
        "jupyter_mlplat.kernel.commands.deploy", "deploy a registered model (local or KServe)"
    ),
    "deployments": Command(
        "jupyter_mlplat.kernel.commands.deployments", "list deployments with state and endpoint"
    ),
    "evaluate": Command(
        "jupyter_mlplat.kernel.commands.evaluate",
        "evaluate a model version on a holdout table: a report, diffed against the champion",
    ),
    "reports": Command(
        "jupyter_mlplat.kernel.commands.reports",
        "search evaluation reports (metric.f1 > 0.9 table:t)",
    ),
    "tune": Command(
        "jupyter_mlplat.kernel.commands.tune",
        "tune a cell's objective(trial) with Optuna, trials tracked in MLflow",
        takes_cell=True,
    ),
    "undeploy": Command("jupyter_mlplat.kernel.commands.undeploy", "delete a deployment"),
    "promote": Command(
        "jupyter_mlplat.kernel.commands.promote", "send all traffic to a deployment's canary"
    ),
    "rollback": Command(
        "jupyter_mlplat.kernel.commands.rollback", "return a deployment to its previous version"
    ),
    "pipeline": Command(
        "jupyter_mlplat.kernel.commands.pipeline",
        "write (%%mlp pipeline NAME, new --template), run, list, trigger, pause, publish pipelines",
        takes_cell=True,
    ),
    "predict": Command(
        "jupyter_mlplat.kernel.commands.predict", "score a catalog table with a model on Spark"
    ),
    "help": Command("jupyter_mlplat.kernel.commands.help", "list the commands, or explain one"),
    "search": Command(
        "jupyter_mlplat.kernel.commands.search",
        "search models, runs, reports, pipelines, deployments and tables",
    ),
    "spark": Command(
        "jupyter_mlplat.kernel.commands.spark", "Spark session: endpoint, UI link, executors"
    ),
    "status": Command(
        "jupyter_mlplat.kernel.commands.status", "show tracking, experiment, tags and services"
    ),
}


HELP_FLAGS = frozenset({"-h", "--help"})


def usage() -> str:
    """One line naming the available commands."""
    return "Commands: " + ", ".join(sorted(COMMANDS)) + " (see %mlp help)."


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser that raises ``UsageError`` (one clean line) instead of exiting.

    ``-h`` is listed in its help, but the router answers it (``%mlp help <command>``) before a
    command parses anything: nothing here may raise ``SystemExit`` inside a kernel.
    """

    def __init__(self, command: str, **kwargs: Any) -> None:
        known = COMMANDS.get(command)
        kwargs.setdefault("description", known.summary if known else None)
        prefix = "%%mlp" if known and known.takes_cell else "%mlp"
        super().__init__(prog=f"{prefix} {command}", add_help=False, **kwargs)
        self.add_argument("-h", "--help", action="help", help="show this help")

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {printable(message)}")

    def exit(self, status: int = 0, message: str | None = None) -> NoReturn:
        text = message or f"{self.prog}: see %mlp help {self.prog.split()[-1]}"
        raise UsageError(printable(text.strip()))


def printable(text: str) -> str:
    """``text`` on one line: what the user typed may hold control or line-break characters."""
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)
