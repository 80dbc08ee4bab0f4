"""``%mlp checks [--dataset X] [--suite S] [--status passed|failed] [--limit N]``."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from html import escape
from typing import Any

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.render import server_base_path


def parser() -> ArgumentParser:
    p = ArgumentParser("checks")
    p.add_argument("--dataset", help="only checks of this dataset (frame or table name)")
    p.add_argument("--suite", help="only checks that ran this saved suite")
    p.add_argument("--status", choices=["passed", "failed"], help="only passed or failed checks")
    p.add_argument("--limit", type=int, default=20, help="at most this many (default: 20)")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> ChecksTable:
    """Recent data-quality results kept in MLflow, newest first."""
    options = parser().parse_args(args)
    from jupyter_mlplat.quality.record import find_results

    records = find_results(
        magics.mlplat, options.dataset, options.suite, options.status, options.limit
    )
    return ChecksTable(records, server_base_path())


@dataclass
class ChecksTable:
    """Check records as an HTML table (with links to the runs) or plain text."""

    records: list[Any]
    base_path: str = "/"

    def __repr__(self) -> str:
        if not self.records:
            return "no data-quality results found"
        lines = [f"{'when':<17} {'check':<20} {'dataset':<16} {'suite':<12} status  ratio  run"]
        for r in self.records:
            lines.append(
                f"{_when(r.start_time):<17} {r.name:<20} {r.dataset:<16} {r.suite or '-':<12} "
                f"{r.status:<7} {_ratio(r.success_ratio):>5}  {r.run_id}"
            )
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        if not self.records:
            return "<div class='mlplat-checks'>no data-quality results found</div>"
        rows = []
        for r in self.records:
            colour = "#1a7f37" if r.status == "passed" else "#cf222e"
            link = escape(self.base_path + r.path)
            rows.append(
                "<tr>"
                f"<td>{escape(_when(r.start_time))}</td><td><code>{escape(r.name)}</code></td>"
                f"<td>{escape(r.dataset)}</td><td>{escape(r.suite or '-')}</td>"
                f"<td style='color:{colour}'>{escape(r.status)}</td>"
                f"<td>{_ratio(r.success_ratio)}</td>"
                f"<td>{'' if r.failed_count is None else int(r.failed_count)}</td>"
                f"<td><a href='{link}' target='_blank'>{escape(r.run_name or r.run_id)}</a></td>"
                "</tr>"
            )
        head = "".join(
            f"<th style='text-align:left'>{h}</th>"
            for h in ("when", "check", "dataset", "suite", "status", "passed", "failed", "run")
        )
        return (
            "<div class='mlplat-checks'><table style='border-collapse:collapse'>"
            f"<thead><tr>{head}</tr></thead><tbody>{''.join(rows)}</tbody></table></div>"
        )


def _when(millis: int) -> str:
    moment = datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.UTC)
    return moment.strftime("%Y-%m-%d %H:%M")


def _ratio(value: float | None) -> str:
    return "" if value is None else f"{value:.0%}"
