"""``%mlp evaluate MODEL --table DB.T | --data VAR [--label Y] [--against @champion|none]
[--rows N]``: evaluate a model version on a holdout, attach a report, diff it with the champion."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.commands.checks import _base_path


def parser() -> ArgumentParser:
    p = ArgumentParser("evaluate")
    p.add_argument("model", help="models:/<name>@<alias> or models:/<name>/<version>")
    source = p.add_mutually_exclusive_group(required=True)
    source.add_argument("--table", help="holdout table, <database>.<table> (read with Spark)")
    source.add_argument("--data", help="holdout DataFrame: a variable of the notebook")
    p.add_argument("--label", help="the label column (default: the one the model does not take)")
    p.add_argument("--against", default="@champion",
                   help="alias to compare with, or none (default: @champion)")  # fmt: skip
    p.add_argument("--rows", type=int, help="most holdout rows (default: MLP_REPORTS_ROW_CAP)")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> EvaluationSummary:
    """Evaluate in this kernel (its Spark session reads the table) and show the summary."""
    options = parser().parse_args(args)
    if options.rows is not None and options.rows < 1:
        raise InvalidInput(f"--rows must be a positive number, not {options.rows}")
    spark = None
    if options.table:
        data: Any = options.table
        if not magics.spark.provides_session:
            raise UsageError(
                "%mlp evaluate --table needs a Spark Connect session "
                f"(spark_mode is {magics.mlplat.spark_mode!r}); use --data with a DataFrame"
            )
        spark = magics.spark.session or magics.spark.attach()
    else:
        namespace = magics.shell.user_ns
        if options.data not in namespace:
            raise InvalidInput(f"the notebook has no variable {options.data!r}")
        data = namespace[options.data]
    from jupyter_mlplat.reports.evaluate import evaluate

    result = evaluate(
        options.model,
        data,
        label=options.label,
        against=options.against,
        row_cap=options.rows,
        config=magics.mlplat,
        spark=spark,
        data_name=options.data or "",
    )
    return EvaluationSummary(result.report, result.seconds.get("total", 0.0), _base_path())


@dataclass
class EvaluationSummary:
    """The report in brief: metrics, the champion diff and a link to the full page."""

    report: dict[str, Any]
    seconds: float = 0.0
    base_path: str = "/"

    @property
    def link(self) -> str:
        return f"{self.base_path}mlplat/api/reports/{self.report['id']}/html"

    def __repr__(self) -> str:
        r = self.report
        lines = [
            f"Evaluation of {r['model']['uri']} ({r['model_type']}) on {r['holdout']['table']}"
            f" ({r['holdout']['rows']:,} rows), report {r['id']}"
        ]
        champion = r.get("champion")
        verdicts = {row["metric"]: row for row in (champion or {}).get("diff", [])}
        for name, value in sorted(r["metrics"].items()):
            row = verdicts.get(name)
            extra = f"  vs {row['champion']:.4g}: {row['verdict']}" if row else ""
            lines.append(f"  {name:<32} {value:.4g}{extra}")
        if not champion:
            lines.append(r.get("champion_note") or "no champion to compare with")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        from jupyter_mlplat.reports.render import champion_section, number

        r = self.report
        metrics = "".join(
            f"<tr><td><code>{escape(k)}</code></td><td style='text-align:right'>{number(v)}"
            "</td></tr>"
            for k, v in sorted(r["metrics"].items())
        )
        return (
            "<div class='mlplat-evaluation' style='font-size:13px'>"
            f"<b>{escape(r['model']['uri'])}</b> · {escape(r['model_type'])} · "
            f"{escape(r['holdout']['table'])} ({r['holdout']['rows']:,} rows, digest "
            f"<code>{escape(r['holdout']['digest'][:12])}</code>) · {self.seconds:.1f} s"
            f"<div style='display:flex;gap:32px;align-items:flex-start'>"
            f"<table>{metrics}</table><div>{champion_section(r)}</div></div>"
            f"<a href='{escape(self.link)}' target='_blank'>Open the report</a>"
            f" (run <code>{escape(r['id'])}</code>)</div>"
        )
