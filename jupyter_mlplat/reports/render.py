"""``report.html``: one self-contained page from ``report.json`` (no script, no external asset).

Plots are embedded as ``data:image/png;base64`` images, styles are inline: the page reads the
same from the MLflow UI, the REST route (served with a no-script CSP) or a downloaded file.
"""

from __future__ import annotations

from html import escape
from typing import Any

VERDICT_COLOURS = {"better": "#1a7f37", "worse": "#cf222e", "same": "#57606a"}

_STYLE = """
body { font: 14px/1.45 system-ui, -apple-system, 'Segoe UI', sans-serif; margin: 24px;
       color: #1f2328; max-width: 1100px; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 16px; margin: 28px 0 8px; }
.sub { color: #57606a; margin-bottom: 16px; }
table { border-collapse: collapse; margin: 4px 0; }
th, td { text-align: left; padding: 4px 12px 4px 0; border-bottom: 1px solid #d8dee4; }
td.num { text-align: right; font-variant-numeric: tabular-nums; }
code { font-size: 12px; background: #f6f8fa; padding: 1px 4px; border-radius: 4px; }
.plots { display: flex; flex-wrap: wrap; gap: 16px; }
figure { margin: 0; } figcaption { color: #57606a; font-size: 12px; }
figure img { max-width: 480px; border: 1px solid #d8dee4; }
.note { color: #57606a; }
"""


def number(value: Any) -> str:
    """A metric value, compact."""
    if value is None:
        return ""
    value = float(value)
    if value.is_integer() and abs(value) < 1e12:
        return f"{int(value):,}"
    return f"{value:.6g}" if abs(value) < 1e6 else f"{value:.4g}"


def _signed(value: float) -> str:
    text = number(value)
    return text if text.startswith("-") or value == 0 else "+" + text


def _table(header: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    numeric = numeric or set()
    head = "".join(f"<th>{escape(h)}</th>" for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f"<td class='num'>{cell}</td>" if i in numeric else f"<td>{cell}</td>"
            for i, cell in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def champion_section(report: dict[str, Any]) -> str:
    """The side-by-side diff against the champion (or why there is none)."""
    champion = report.get("champion")
    if not champion:
        reason = report.get("champion_note") or "No champion to compare with."
        return f"<p class='note'>{escape(reason)}</p>"
    rows = []
    for row in champion.get("diff", []):
        colour = VERDICT_COLOURS.get(row["verdict"], "#57606a")
        rows.append(
            [
                f"<code>{escape(row['metric'])}</code>",
                number(row["value"]),
                number(row["champion"]),
                _signed(row["delta"]),
                f"<b style='color:{colour}'>{escape(row['verdict'])}</b>",
            ]
        )
    title = (
        f"Against the champion: version {escape(str(champion.get('version')))}"
        f" (@{escape(str(champion.get('alias', '')))}), same holdout"
    )
    table = _table(
        ["metric", "this version", "champion", "delta", "verdict"], rows, numeric={1, 2, 3}
    )
    return f"<p>{title}</p>{table}"


def html(report: dict[str, Any]) -> str:
    """The page of a report (``report.json``'s dict)."""
    model = report["model"]
    holdout = report["holdout"]
    title = f"{model['name']} version {model['version']}: evaluation report"
    metrics = _table(
        ["metric", "value"],
        [[f"<code>{escape(k)}</code>", number(v)] for k, v in sorted(report["metrics"].items())],
        numeric={1},
    )
    holdout_table = _table(
        ["", ""],
        [
            ["table", escape(str(holdout.get("table", "")))],
            ["rows", number(holdout.get("rows"))],
            ["label", f"<code>{escape(str(holdout.get('label', '')))}</code>"],
            ["digest", f"<code>{escape(str(holdout.get('digest', '')))}</code>"],
        ],
    )
    figures = "".join(
        f"<figure><img alt='{escape(p['title'])}' src='data:image/png;base64,"
        f"{p['png_base64']}'><figcaption>{escape(p['title'])}</figcaption></figure>"
        for p in report.get("plots", [])
        if p.get("png_base64")
    )
    quality = report.get("quality") or []
    quality_html = (
        _table(
            ["check", "status", "passed", "failed rows"],
            [
                [
                    f"<code>{escape(q['name'])}</code>",
                    escape(q.get("status") or ""),
                    "" if q.get("success_ratio") is None else f"{q['success_ratio']:.0%}",
                    "" if q.get("failed_count") is None else str(q["failed_count"]),
                ]
                for q in quality
            ],
        )
        if quality
        else "<p class='note'>The training run logged no data-quality checks.</p>"
    )
    return (
        "<!DOCTYPE html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>{escape(title)}</title><style>{_STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<div class='sub'>{escape(report['model_type'])} · <code>{escape(model['uri'])}</code>"
        f" · report <code>{escape(report['id'])}</code> · {escape(report['created'])}</div>"
        f"<h2>Champion</h2>{champion_section(report)}"
        f"<h2>Metrics</h2>{metrics}"
        f"<h2>Holdout</h2>{holdout_table}"
        f"<h2>Plots</h2><div class='plots'>{figures or '<p class=note>No plots.</p>'}</div>"
        f"<h2>Training data quality</h2>{quality_html}"
        f"<p class='note'>Training run <code>{escape(model.get('run_id') or '-')}</code>.</p>"
        "</body></html>"
    )
