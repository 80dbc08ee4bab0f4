"""``%mlp rollback NAME``: drop the canary, or return to the previous stable version."""

from __future__ import annotations

from typing import Any

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.commands.deploy import change, name_parser


def parser() -> ArgumentParser:
    return name_parser("rollback")


def run(magics: Any, args: list[str], cell: str | None) -> Any:
    return change(magics, "rollback", args)
