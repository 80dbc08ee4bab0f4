"""The ``%mlp`` subcommands. Each lives in its own module, imported only when first used."""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from typing import NoReturn

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
    "undeploy": Command("jupyter_mlplat.kernel.commands.undeploy", "delete a deployment"),
    "promote": Command(
        "jupyter_mlplat.kernel.commands.promote", "send all traffic to a deployment's canary"
    ),
    "rollback": Command(
        "jupyter_mlplat.kernel.commands.rollback", "return a deployment to its previous version"
    ),
    "pipeline": Command(
        "jupyter_mlplat.kernel.commands.pipeline",
        "write (%%mlp pipeline NAME, new --template), run, list, trigger, pause pipelines",
        takes_cell=True,
    ),
    "predict": Command(
        "jupyter_mlplat.kernel.commands.predict", "score a catalog table with a model on Spark"
    ),
    "help": Command("jupyter_mlplat.kernel.commands.help", "list the commands, or explain one"),
    "spark": Command(
        "jupyter_mlplat.kernel.commands.spark", "Spark session: endpoint, UI link, executors"
    ),
    "status": Command(
        "jupyter_mlplat.kernel.commands.status", "show tracking, experiment, tags and services"
    ),
}


def usage() -> str:
    """One line naming the available commands."""
    return "Commands: " + ", ".join(sorted(COMMANDS)) + " (see %mlp help)."


class ArgumentParser(argparse.ArgumentParser):
    """An argparse parser that raises ``UsageError`` (one clean line) instead of exiting."""

    def __init__(self, command: str, **kwargs: object) -> None:
        super().__init__(prog=f"%mlp {command}", add_help=False, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message}")
