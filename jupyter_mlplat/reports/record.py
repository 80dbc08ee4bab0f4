"""How a report is kept in MLflow: one owner of its tag names and artifact paths.

A report is an evaluation run (tag ``mlplat.kind=evaluation-report``) in the model's
experiment: its metrics are the evaluation's, its tags name the model version, the holdout
(table, digest, rows, label), the model type and the champion comparison, and its artifacts
hold ``report/report.json`` and ``report/report.html``. The model version gets the tag
``mlplat.report.run_id`` naming its latest report.
"""

from __future__ import annotations

import datetime
import json
from typing import Any

from jupyter_mlplat.quality.record import KIND_TAG
from jupyter_mlplat.reports.index import ReportSummary

KIND = "evaluation-report"
PREFIX = "mlplat.report."
MODEL_TAG = PREFIX + "model"
VERSION_TAG = PREFIX + "version"
TABLE_TAG = PREFIX + "table"
DIGEST_TAG = PREFIX + "digest"
ROWS_TAG = PREFIX + "rows"
LABEL_TAG = PREFIX + "label"
TYPE_TAG = PREFIX + "model_type"
#: JSON of the champion comparison: {"version", "alias", "report_id", "verdict", "verdict_counts"}
CHAMPION_TAG = PREFIX + "champion"
#: On the model version: the run id of its latest report.
VERSION_REPORT_TAG = PREFIX + "run_id"

ARTIFACT_DIR = "report"
JSON_ARTIFACT = f"{ARTIFACT_DIR}/report.json"
HTML_ARTIFACT = f"{ARTIFACT_DIR}/report.html"


def iso(millis: int) -> str:
    """An MLflow millisecond timestamp as ISO 8601 UTC."""
    moment = datetime.datetime.fromtimestamp(millis / 1000, tz=datetime.UTC)
    return moment.isoformat(timespec="seconds").replace("+00:00", "Z")


def summary_of_run(run: Any) -> ReportSummary | None:
    """The index entry of a report run (None if the run is not a finished report)."""
    tags = dict(run.data.tags)
    if tags.get(KIND_TAG) != KIND or MODEL_TAG not in tags:
        return None
    champion = None
    if tags.get(CHAMPION_TAG):
        try:
            champion = json.loads(tags[CHAMPION_TAG])
        except ValueError:
            champion = None
    try:
        rows = int(tags.get(ROWS_TAG, "0"))
    except ValueError:
        rows = 0
    return ReportSummary(
        id=run.info.run_id,
        model=tags[MODEL_TAG],
        version=tags.get(VERSION_TAG, ""),
        created=iso(run.info.start_time),
        created_ms=int(run.info.start_time),
        table=tags.get(TABLE_TAG, ""),
        digest=tags.get(DIGEST_TAG, ""),
        model_type=tags.get(TYPE_TAG, ""),
        label=tags.get(LABEL_TAG, ""),
        rows=rows,
        metrics={k: float(v) for k, v in run.data.metrics.items()},
        champion=champion,
    )
