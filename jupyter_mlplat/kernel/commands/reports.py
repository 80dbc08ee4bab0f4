"""``%mlp reports "metric.f1_score > 0.9 table:demo.iris" [--limit N]``: search the reports."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.commands.checks import _base_path
from jupyter_mlplat.kernel.platform_api import PlatformApi

#: Metrics shown per report in the table (those present, in this order), the rest left out.
SHOWN_METRICS = ("f1_score", "accuracy_score", "roc_auc", "r2_score", "root_mean_squared_error")


def parser() -> ArgumentParser:
    p = ArgumentParser("reports")
    p.add_argument("query", nargs="*", help="metric.m > x, table:, model:, version:, type:, words")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default: 20)")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> ReportsTable:
    """Ask the server's reports index (synced from MLflow) through the kernel's API client."""
    options = parser().parse_args(args)
    found = PlatformApi().reports(" ".join(options.query), options.limit)
    return ReportsTable(found["query"], found["reports"], _base_path())


@dataclass
class ReportsTable:
    """Search hits as an HTML table (links to each report page) or plain text."""

    query: str
    reports: list[dict[str, Any]]
    base_path: str = "/"

    def __repr__(self) -> str:
        if not self.reports:
            return f"no reports match {self.query!r}"
        lines = []
        for r in self.reports:
            metrics = ", ".join(f"{k}={v:.4g}" for k, v in _shown(r["metrics"]))
            lines.append(
                f"{r['created'][:16]} {r['model']} v{r['version']} {r['table']} "
                f"{r['model_type']} {_verdict(r)} {metrics} {r['id']}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.reports:
            query = escape(self.query)
            return f"<div class='mlplat-reports'>no reports match <code>{query}</code></div>"
        from jupyter_mlplat.reports.render import number

        head = "".join(
            f"<th style='text-align:left'>{h}</th>"
            for h in ("created", "model", "version", "holdout", "type", "metrics", "champion", "")
        )
        rows = []
        for r in self.reports:
            metrics = ", ".join(f"{escape(k)} {number(v)}" for k, v in _shown(r["metrics"]))
            link = escape(f"{self.base_path}mlplat/api/reports/{r['id']}/html")
            rows.append(
                f"<tr><td>{escape(r['created'][:16].replace('T', ' '))}</td>"
                f"<td>{escape(r['model'])}</td><td>{escape(r['version'])}</td>"
                f"<td>{escape(r['table'])}</td><td>{escape(r['model_type'])}</td>"
                f"<td>{metrics}</td><td>{escape(_verdict(r))}</td>"
                f"<td><a href='{link}' target='_blank'>report</a></td></tr>"
            )
        return (
            f"<div class='mlplat-reports'><table style='border-collapse:collapse'><thead><tr>"
            f"{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


def _shown(metrics: dict[str, float]) -> list[tuple[str, float]]:
    return [(k, metrics[k]) for k in SHOWN_METRICS if k in metrics][:3]


def _verdict(report: dict[str, Any]) -> str:
    champion = report.get("champion")
    if not champion:
        return "-"
    return f"{champion.get('verdict', '')} than v{champion.get('version', '?')}"
