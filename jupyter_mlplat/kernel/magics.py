"""The ``%mlp`` / ``%%mlp`` magic: a router that hands each subcommand to its own module."""

from __future__ import annotations

import importlib
import shlex
from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_cell_magic, magics_class

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import MLPlatError
from jupyter_mlplat.kernel.commands import COMMANDS, HELP_FLAGS, usage
from jupyter_mlplat.spark.session import SparkSessions


@magics_class
class MLPMagics(Magics):
    """``%mlp <command> [args]`` — run ``%mlp help`` for the list of commands."""

    def __init__(self, shell: Any, config: MLPlat, spark: SparkSessions | None = None) -> None:
        super().__init__(shell)
        self.mlplat = config
        self.spark = spark or SparkSessions(config, progress=spark_progress_bar)

    @line_cell_magic
    def mlp(self, line: str, cell: str | None = None) -> Any:
        """Platform commands: ``%mlp help`` lists them."""
        try:
            words = shlex.split(line)
        except ValueError as err:
            raise UsageError(f"%mlp: cannot parse the line ({err})") from None
        if not words:
            raise UsageError(f"%mlp needs a command. {usage()}")
        name, args = words[0], words[1:]
        command = COMMANDS.get(name)
        if command is None:
            raise UsageError(f"%mlp: unknown command {name!r}. {usage()}")
        if cell is not None and not command.takes_cell:
            raise UsageError(f"%mlp {name} is a line magic: use %mlp, not %%mlp")
        if HELP_FLAGS & set(args):  # `%mlp deploy -h` is `%mlp help deploy`: never argparse's exit
            name, args, command = "help", [name], COMMANDS["help"]
        module = importlib.import_module(command.module)
        try:
            return module.run(self, args, cell)
        except MLPlatError as err:  # the one place platform errors become one clean line
            magic = "%%mlp" if cell is not None else "%mlp"
            raise UsageError(f"{magic} {name}: {err}") from None


def spark_progress_bar() -> Any:
    """The progress handler of a new Spark session (its module is imported then, not at start)."""
    from jupyter_mlplat.kernel.spark_progress import ProgressReporter

    return ProgressReporter()
