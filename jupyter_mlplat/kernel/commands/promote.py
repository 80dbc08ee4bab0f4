"""``%mlp promote NAME``: send all traffic to the canary (stable := canary)."""

from __future__ import annotations

from typing import Any

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.commands.deploy import change, name_parser


def parser() -> ArgumentParser:
    return name_parser("promote")


def run(magics: Any, args: list[str], cell: str | None) -> Any:
    return change(magics, "promote", args)
