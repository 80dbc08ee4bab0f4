"""Small rich-display objects: HTML in the lab, plain text everywhere else."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from html import escape
from urllib.parse import urlparse

from jupyter_mlplat.config import API_URL_VARIABLE

_STATE_COLOURS = {"ok": "#1a7f37", "warn": "#9a6700", "error": "#cf222e", "": "inherit"}
#: Bar colours: running, finished well, failed.
RUNNING, DONE, FAILED = "#0969da", "#1a7f37", "#cf222e"


def server_base_path() -> str:
    """The Jupyter server's base path: links to the proxied MLflow UI hang below it."""
    path = urlparse(os.environ.get(API_URL_VARIABLE, "")).path or "/"
    return path if path.endswith("/") else path + "/"


def progress_bar(kind: str, fraction: float, text: str, colour: str = RUNNING) -> str:
    """HTML of a progress bar with a caption (class ``mlplat-<kind>-progress``), for a display
    that is updated in place while long work runs (Spark operations, deploys)."""
    return (
        f'<div class="mlplat-{kind}-progress" style="font-family:var(--jp-code-font-family,'
        'monospace);font-size:12px;margin:2px 0">'
        '<div style="background:#d0d7de;border-radius:3px;height:8px;width:320px">'
        f'<div style="background:{colour};height:8px;border-radius:3px;'
        f'width:{fraction * 100:.1f}%"></div></div>'
        f"<span>{escape(text)}</span></div>"
    )


@dataclass
class Row:
    """One line of a report: a label, a value and an optional state (ok, warn, error)."""

    label: str
    value: str
    state: str = ""


@dataclass
class Report:
    """A titled table of sections of rows, displayed as HTML or text."""

    title: str
    sections: dict[str, list[Row]] = field(default_factory=dict)

    def add(self, section: str, label: str, value: object, state: str = "") -> None:
        self.sections.setdefault(section, []).append(Row(label, str(value), state))

    def __repr__(self) -> str:
        lines = [self.title]
        for section, rows in self.sections.items():
            lines.append(f"{section}:")
            width = max(len(r.label) for r in rows)
            for r in rows:
                mark = {"ok": "✓ ", "warn": "! ", "error": "✗ "}.get(r.state, "")
                lines.append(f"  {r.label:<{width}}  {mark}{r.value}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        body = []
        for section, rows in self.sections.items():
            body.append(
                f'<tr><th colspan="2" style="text-align:left;padding-top:6px">'
                f"{escape(section)}</th></tr>"
            )
            for r in rows:
                colour = _STATE_COLOURS.get(r.state, "inherit")
                body.append(
                    f'<tr><td style="text-align:left;padding-right:12px">{escape(r.label)}</td>'
                    f'<td style="text-align:left;color:{colour}"><code>{escape(r.value)}</code>'
                    "</td></tr>"
                )
        return (
            f'<div class="mlplat-report"><strong>{escape(self.title)}</strong>'
            f'<table style="border-collapse:collapse">{"".join(body)}</table></div>'
        )
