"""Comparing a model's metrics with the champion's: which way is better, per metric."""

from __future__ import annotations

import math
from typing import Any

#: Metrics of mlflow.models.evaluate where more is better.
HIGHER_IS_BETTER = frozenset(
    {
        "accuracy_score", "f1_score", "precision_score", "recall_score", "roc_auc",
        "precision_recall_auc", "score", "r2_score", "true_positives", "true_negatives",
    }
)  # fmt: skip
#: ... and where less is better.
LOWER_IS_BETTER = frozenset(
    {
        "log_loss", "max_error", "mean_absolute_error", "mean_absolute_percentage_error",
        "mean_squared_error", "root_mean_squared_error", "false_positives", "false_negatives",
    }
)  # fmt: skip
#: Relative difference below which two values are the same.
TOLERANCE = 1e-9


def direction(metric: str) -> int:
    """+1 higher is better, -1 lower is better, 0 neither (counts, sums: not compared).

    Per-class variants (``f1_score_setosa``) and ``_weighted`` suffixes go by their base name.
    """
    for base, sign in ((HIGHER_IS_BETTER, 1), (LOWER_IS_BETTER, -1)):
        if metric in base or any(metric.startswith(name + "_") for name in base):
            return sign
    return 0


def verdict(metric: str, value: float, champion: float) -> str:
    """better | worse | same, for a metric whose direction is known."""
    if math.isclose(value, champion, rel_tol=TOLERANCE, abs_tol=TOLERANCE):
        return "same"
    better = value > champion if direction(metric) > 0 else value < champion
    return "better" if better else "worse"


def diff(metrics: dict[str, float], champion: dict[str, float]) -> list[dict[str, Any]]:
    """Per metric both have and whose direction is known: value, champion, delta, verdict."""
    rows = []
    for name in sorted(set(metrics) & set(champion)):
        if direction(name) == 0:
            continue
        value, theirs = float(metrics[name]), float(champion[name])
        rows.append(
            {
                "metric": name,
                "value": value,
                "champion": theirs,
                "delta": value - theirs,
                "verdict": verdict(name, value, theirs),
            }
        )
    return rows


def summary(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """``{"verdict", "verdict_counts"}``: better if more metrics improved than got worse."""
    counts = {key: sum(r["verdict"] == key for r in rows) for key in ("better", "worse", "same")}
    overall = (
        "better"
        if counts["better"] > counts["worse"]
        else "worse"
        if counts["worse"] > counts["better"]
        else "same"
    )
    return {"verdict": overall, "verdict_counts": counts}
