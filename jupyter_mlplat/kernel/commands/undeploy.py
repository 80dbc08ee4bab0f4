"""``%mlp undeploy NAME``: stop serving a deployment and delete it."""

from __future__ import annotations

from typing import Any

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.commands.deploy import name_parser
from jupyter_mlplat.kernel.platform_api import PlatformApi


def parser() -> ArgumentParser:
    return name_parser("undeploy")


def run(magics: Any, args: list[str], cell: str | None) -> None:
    name = parser().parse_args(args).name
    PlatformApi().undeploy(name)
    print(f"{name}: undeployed")
