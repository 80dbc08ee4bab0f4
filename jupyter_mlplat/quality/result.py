"""The result of a data-quality check: per-expectation rows, JSON, an HTML and a text report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from html import escape
from typing import Any

_GREEN = "#1a7f37"
_RED = "#cf222e"


@dataclass
class ExpectationOutcome:
    """How one expectation fared."""

    expectation: str  # the short form (``amount: between 0 10000``)
    gx_type: str
    column: str | None
    success: bool
    observed: str = ""  # observed value, or how many rows failed
    unexpected_count: int | None = None
    unexpected_percent: float | None = None
    examples: list[dict[str, Any]] = field(default_factory=list)  # failing rows (capped)
    error: str = ""  # GX could not evaluate it (wrong type for the column...)


@dataclass
class CheckResult:
    """A validated frame: overall status, counts and one outcome per expectation."""

    name: str
    dataset: str
    suite: str
    engine: str  # pandas | spark | spark-connect
    success: bool
    evaluated: int
    failed: int
    expectations: list[ExpectationOutcome]
    seconds: float = 0.0
    created: str = ""
    run_id: str = ""  # the MLflow run the result was logged to (once logged)

    @property
    def success_ratio(self) -> float:
        """Share of expectations that passed (1.0 for an empty check)."""
        return (self.evaluated - self.failed) / self.evaluated if self.evaluated else 1.0

    @property
    def status(self) -> str:
        return "passed" if self.success else "failed"

    @property
    def failures(self) -> list[ExpectationOutcome]:
        return [e for e in self.expectations if not e.success]

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data |= {"success_ratio": self.success_ratio, "status": self.status}
        return data

    def to_json(self) -> str:
        """The full result as JSON (what is logged as ``result.json``)."""
        return json.dumps(self.to_dict(), indent=1, default=str)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CheckResult:
        fields = {k: v for k, v in data.items() if k not in {"success_ratio", "status"}}
        fields["expectations"] = [ExpectationOutcome(**e) for e in data["expectations"]]
        return cls(**fields)

    def summary(self) -> str:
        """One line: ``check 'orders' failed: 2 of 5 expectations failed (…)``."""
        head = f"check {self.name!r} on {self.dataset} {self.status}"
        if self.success:
            return f"{head}: {self.evaluated} expectations passed"
        failed = "; ".join(e.expectation for e in self.failures[:3])
        more = f"; +{self.failed - 3} more" if self.failed > 3 else ""
        return f"{head}: {self.failed} of {self.evaluated} expectations failed ({failed}{more})"

    def __repr__(self) -> str:
        lines = [self.summary()]
        for outcome in self.expectations:
            mark = "✓" if outcome.success else "✗"
            observed = outcome.error or outcome.observed
            lines.append(f"  {mark} {outcome.expectation:<40} {observed}")
            for row in outcome.examples:
                lines.append(f"      {row}")
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        colour = _GREEN if self.success else _RED
        rows = "".join(_row_html(o) for o in self.expectations)
        suite = f" · suite <code>{escape(self.suite)}</code>" if self.suite else ""
        return (
            '<div class="mlplat-check">'
            f'<div><strong style="color:{colour}">{escape(self.status.upper())}</strong> '
            f"check <code>{escape(self.name)}</code> on <code>{escape(self.dataset)}</code>"
            f"{suite} · {self.evaluated - self.failed}/{self.evaluated} passed · "
            f"{escape(self.engine)} · {self.seconds:.2f} s</div>"
            '<table style="border-collapse:collapse">'
            "<thead><tr><th style='text-align:left'>expectation</th>"
            "<th style='text-align:left'>result</th>"
            "<th style='text-align:left'>observed</th>"
            "<th style='text-align:left'>failing examples</th></tr></thead>"
            f"<tbody>{rows}</tbody></table></div>"
        )


def _row_html(outcome: ExpectationOutcome) -> str:
    badge_colour = _GREEN if outcome.success else _RED
    label = "pass" if outcome.success else ("error" if outcome.error else "fail")
    badge = (
        f'<span class="mlplat-check-{label}" style="background:{badge_colour};color:white;'
        f'border-radius:3px;padding:0 5px">{label}</span>'
    )
    observed = escape(outcome.error or outcome.observed)
    return (
        "<tr>"
        f'<td style="text-align:left"><code>{escape(outcome.expectation)}</code></td>'
        f'<td style="text-align:left">{badge}</td>'
        f'<td style="text-align:left">{observed}</td>'
        f'<td style="text-align:left">{_examples_html(outcome.examples)}</td>'
        "</tr>"
    )


def _examples_html(examples: list[dict[str, Any]]) -> str:
    if not examples:
        return ""
    columns = list(examples[0])
    head = "".join(f"<th>{escape(str(c))}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{escape(str(row.get(c)))}</td>" for c in columns) + "</tr>"
        for row in examples
    )
    return f'<table style="font-size:90%"><tr>{head}</tr>{body}</table>'
