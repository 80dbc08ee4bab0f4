"""``%mlp help [command]`` (and ``%mlp <command> -h``): the commands, or one command's options."""

from __future__ import annotations

import importlib
import inspect
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.kernel.commands import COMMANDS, ArgumentParser


def parser() -> ArgumentParser:
    p = ArgumentParser("help")
    p.add_argument("command", nargs="?", help="a command name: show its options")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> None:
    """Print the command list, or the full help of one command."""
    if len(args) > 1:
        raise UsageError("%mlp help takes at most one command name")
    if args:
        print(command_help(args[0]))
        return
    print("%mlp commands:")
    for name, command in sorted(COMMANDS.items()):
        prefix = "%%mlp" if command.takes_cell else "%mlp"
        print(f"  {prefix} {name:<12} {command.summary}")
    print("\n%mlp help <command> (or %mlp <command> -h) shows a command's options.")


def command_help(name: str) -> str:
    """Usage, summary and options of ``name`` (its argparse help), then its module's notes."""
    command = COMMANDS.get(name)
    if command is None:
        raise UsageError(f"%mlp help: unknown command {name!r}")
    module = importlib.import_module(command.module)
    build = getattr(module, "parser", None)
    text = (build() if build is not None else ArgumentParser(name)).format_help().rstrip()
    # the module's docstring says more than the options (e.g. the cell syntax of check)
    notes = inspect.cleandoc(module.__doc__ or "").partition("\n\n")[2].replace("``", "`")
    return f"{text}\n\n{notes.strip()}" if notes.strip() else text
