"""``%mlp help [command]``."""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.kernel.commands import COMMANDS


def run(magics: Any, args: list[str], cell: str | None) -> None:
    """Print the command list, or one command's summary."""
    if len(args) > 1:
        raise UsageError("%mlp help takes at most one command name")
    if args:
        command = COMMANDS.get(args[0])
        if command is None:
            raise UsageError(f"%mlp help: unknown command {args[0]!r}")
        print(f"%mlp {args[0]}: {command.summary}")
        return
    print("%mlp commands:")
    for name, command in sorted(COMMANDS.items()):
        prefix = "%%mlp" if command.takes_cell else "%mlp"
        print(f"  {prefix} {name:<10} {command.summary}")
