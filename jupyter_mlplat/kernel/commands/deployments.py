"""``%mlp deployments``: the user's deployments with state, versions, traffic and endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.kernel.commands.deploy import revision_text
from jupyter_mlplat.kernel.platform_api import PlatformApi

COLUMNS = ("name", "target", "state", "stable", "canary", "endpoint", "note")


def run(magics: Any, args: list[str], cell: str | None) -> Any:
    if args:
        raise UsageError("%mlp deployments takes no arguments")
    return DeploymentTable(PlatformApi().deployments())


@dataclass
class DeploymentTable:
    """Deployments as an HTML table (text outside the lab)."""

    deployments: list[dict[str, Any]]

    def rows(self) -> list[tuple[str, ...]]:
        return [
            (
                d["name"],
                d["target"],
                d["state"],
                revision_text(d["stable"]),
                revision_text(d.get("canary")),
                d["endpoint"],
                d.get("message", ""),
            )
            for d in self.deployments
        ]

    def __repr__(self) -> str:
        if not self.deployments:
            return "No deployments (deploy one with %mlp deploy models:/<name>@<alias>)"
        rows = [COLUMNS, *self.rows()]
        widths = [max(len(r[i]) for r in rows) for i in range(len(COLUMNS))]
        return "\n".join(
            "  ".join(v.ljust(w) for v, w in zip(r, widths, strict=True)).rstrip() for r in rows
        )

    def _repr_html_(self) -> str:
        if not self.deployments:
            return f"<p>{escape(repr(self))}</p>"
        head = "".join(f'<th style="text-align:left">{c}</th>' for c in COLUMNS)
        body = "".join(
            "<tr>" + "".join(f'<td style="text-align:left">{escape(v)}</td>' for v in row) + "</tr>"
            for row in self.rows()
        )
        return (
            '<table class="mlplat-deployments" style="border-collapse:collapse">'
            f"<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"
        )
