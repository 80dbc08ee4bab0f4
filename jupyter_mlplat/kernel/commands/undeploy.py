"""``%mlp undeploy NAME``: stop serving a deployment and delete it."""

from __future__ import annotations

from typing import Any

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.platform_api import PlatformApi


def run(magics: Any, args: list[str], cell: str | None) -> None:
    parser = ArgumentParser("undeploy")
    parser.add_argument("name")
    name = parser.parse_args(args).name
    PlatformApi().undeploy(name)
    print(f"{name}: undeployed")
