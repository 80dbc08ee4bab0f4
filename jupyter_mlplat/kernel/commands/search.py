"""``%mlp search "metric.rmse < 50 OR table:demo.iris" [--kind K] [--limit N]``: the one search."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any
from urllib.parse import quote

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.platform_api import PlatformApi
from jupyter_mlplat.kernel.render import server_base_path
from jupyter_mlplat.tracking.ui import MLFLOW_UI_PATH

#: The lab command that opens a result's panel at it (see labextension/src/search).
OPEN_COMMAND = "mlplat:search-open-result"


def parser() -> ArgumentParser:
    p = ArgumentParser("search")
    p.add_argument("query", nargs="*", help="words, field:value, metric.m < x, OR, kind:model")
    p.add_argument("--kind", default="", help="only these kinds, e.g. model|table")
    p.add_argument("--limit", type=int, default=10, help="results per kind (default: 10)")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> SearchResults:
    """Ask the server's search (MLflow + the local indexes) through the kernel's API client."""
    options = parser().parse_args(args)
    found = PlatformApi().search(" ".join(options.query), options.limit, options.kind)
    return SearchResults(found, server_base_path())


@dataclass
class SearchResults:
    """Results grouped by kind, as HTML (links into the lab and MLflow) or plain text."""

    found: dict[str, Any]
    base_path: str = "/"

    def __repr__(self) -> str:
        groups = self.found.get("groups", [])
        if not groups:
            return f"nothing matches {self.found.get('query', '')!r}"
        lines = []
        for group in groups:
            lines.append(f"{group['label']}:")
            lines += [f"  {r['title']}  {r['subtitle']}".rstrip() for r in group["results"]]
        lines += [f"({note})" for note in self.found.get("notes", [])]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        groups = self.found.get("groups", [])
        notes = "".join(
            f"<div style='opacity:.7'>{escape(note)}</div>" for note in self.found.get("notes", [])
        )
        if not groups:
            query = escape(self.found.get("query", ""))
            return f"<div class='mlplat-search'>nothing matches <code>{query}</code>{notes}</div>"
        parts = []
        for group in groups:
            items = "".join(
                f"<li>{self._link(r)} <span style='opacity:.7'>{escape(r['subtitle'])}</span></li>"
                for r in group["results"]
            )
            parts.append(
                f"<div><b>{escape(group['label'])}</b> ({len(group['results'])})"
                f"<ul style='margin:2px 0 6px 0'>{items}</ul></div>"
            )
        return f"<div class='mlplat-search'>{''.join(parts)}{notes}</div>"

    def _link(self, result: dict[str, Any]) -> str:
        """A web link where one exists (MLflow UI, report page), else the lab command."""
        target = result.get("target", {})
        title = escape(result["title"])
        href = ""
        if target.get("path"):
            href = self.base_path + target["path"]
        elif target.get("panel") == "models" and target.get("model"):
            model = quote(target["model"], safe="")
            href = f"{self.base_path}{MLFLOW_UI_PATH}#/models/{model}"
            if target.get("version"):
                href += f"/versions/{quote(str(target['version']), safe='')}"
        if href:
            return f"<a href='{escape(href)}' target='_blank'>{title}</a>"
        import json

        args = escape(json.dumps({"target": target}))
        return (
            f"<a data-commandlinker-command='{OPEN_COMMAND}' data-commandlinker-args='{args}' "
            f"style='cursor:pointer;text-decoration:underline'>{title}</a>"
        )
