"""``%mlp promote NAME``: send all traffic to the canary (stable := canary)."""

from __future__ import annotations

from typing import Any

from jupyter_mlplat.kernel.commands.deploy import change


def run(magics: Any, args: list[str], cell: str | None) -> Any:
    return change(magics, "promote", args)
