"""Keep check results in MLflow and find them again.

For a check named ``<name>`` the run gets metrics ``quality.<name>.success_ratio`` and
``quality.<name>.failed_count``, tags ``mlplat.quality.<name>.status`` (passed | failed),
``.dataset`` and ``.suite``, comma lists ``mlplat.quality.checks|datasets|suites`` for search,
and artifacts ``quality/<name>/result.json`` and ``quality/<name>/report.html``. With no active
run a short run ``check <name>`` (tag ``mlplat.kind=quality-check``) keeps the result.

Logging runs on one background thread, so a check costs what validation costs; ``flush()``
waits for it, and the interpreter waits for it at exit.
"""

from __future__ import annotations

import concurrent.futures
import logging
import sys
import time
from dataclasses import dataclass
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, Unavailable
from jupyter_mlplat.quality.result import CheckResult
from jupyter_mlplat.tracking.experiments import get_or_create_experiment
from jupyter_mlplat.tracking.ui import run_ui_path

log = logging.getLogger(__name__)

KIND_TAG = "mlplat.kind"
KIND = "quality-check"
LIST_TAGS = {"checks": "name", "datasets": "dataset", "suites": "suite"}
STATUSES = ("passed", "failed")
METRIC_PREFIX = "quality."
TAG_PREFIX = "mlplat.quality."


def metric_key(check: str, field: str) -> str:
    """``quality.<check>.<field>`` (``success_ratio``, ``failed_count``)."""
    return f"{METRIC_PREFIX}{check}.{field}"


def tag_key(check: str, field: str = "") -> str:
    """``mlplat.quality.<check>.<field>``, or with one argument a list tag
    ``mlplat.quality.<checks|datasets|suites>``."""
    return f"{TAG_PREFIX}{check}.{field}" if field else f"{TAG_PREFIX}{check}"


def results_of_run(metrics: dict[str, float], tags: dict[str, str]) -> list[dict[str, Any]]:
    """The checks a run logged, by name, read back from its metrics and tags (names may
    contain dots: the field is the last part). What the models panel shows per version."""
    found: dict[str, dict[str, Any]] = {}

    def entry(name: str) -> dict[str, Any]:
        return found.setdefault(
            name, {"name": name, "status": "", "success_ratio": None, "failed_count": None}
        )

    for key, value in metrics.items():
        if key.startswith(METRIC_PREFIX):
            name, _, field = key[len(METRIC_PREFIX) :].rpartition(".")
            if name and field == "success_ratio":
                entry(name)["success_ratio"] = float(value)
            elif name and field == "failed_count":
                entry(name)["failed_count"] = int(value)
    for key, status in tags.items():
        if key.startswith(TAG_PREFIX) and key.endswith(".status"):
            name = key[len(TAG_PREFIX) : -len(".status")]
            if name:
                entry(name)["status"] = status
    for result in found.values():
        if not result["status"] and result["success_ratio"] is not None:
            result["status"] = "passed" if result["success_ratio"] >= 1 else "failed"
    return sorted(found.values(), key=lambda r: r["name"])


_executor = concurrent.futures.ThreadPoolExecutor(max_workers=1, thread_name_prefix="mlplat-q")
_pending: list[concurrent.futures.Future[str]] = []


def submit(result: CheckResult, config: MLPlat) -> concurrent.futures.Future[str] | None:
    """Log ``result`` in the background (to the caller's active run, if any); None when no
    tracking server is configured."""
    if not config.tracking_uri:
        return None
    # no run can be active before mlflow is imported (it may be half-imported by our own thread)
    active_run = getattr(sys.modules.get("mlflow"), "active_run", None)
    active = active_run() if active_run is not None else None
    run_id = active.info.run_id if active is not None else ""
    future = _executor.submit(_log, result, config, run_id)
    _pending.append(future)
    future.add_done_callback(_report_failure)
    return future


def flush(timeout: float | None = 120) -> None:
    """Wait until every submitted result is logged."""
    pending = list(_pending)
    concurrent.futures.wait(pending, timeout=timeout)
    for future in pending:
        if future.done():
            _pending.remove(future)


def _report_failure(future: concurrent.futures.Future[str]) -> None:
    error = future.exception()
    if error is not None:
        log.warning("mlplat: could not log the data-quality result to MLflow: %s", error)
        print(f"mlplat: could not log the data-quality result to MLflow: {error}", file=sys.stderr)


def _log(result: CheckResult, config: MLPlat, run_id: str) -> str:
    from mlflow import MlflowClient
    from mlflow.entities import Metric, RunTag

    client = MlflowClient(config.tracking_uri)
    own_run = not run_id
    if own_run:
        from jupyter_mlplat.tracking.context import run_tags

        experiment_id = get_or_create_experiment(
            client, config.experiment_for(config.notebook_path)
        )
        run = client.create_run(
            experiment_id,
            run_name=f"check {result.name}",
            tags=run_tags(config) | {KIND_TAG: KIND},
        )
        run_id = run.info.run_id
        existing: dict[str, str] = {}
    else:
        existing = client.get_run(run_id).data.tags
    result.run_id = run_id
    name = result.name
    tags = {
        tag_key(name, "status"): result.status,
        tag_key(name, "dataset"): result.dataset,
        tag_key(name, "suite"): result.suite,
    }
    for list_tag, attribute in LIST_TAGS.items():
        key = tag_key(list_tag)
        values = [v for v in existing.get(key, "").split(",") if v]
        value = getattr(result, attribute)
        if value and value not in values:
            values.append(value)
        tags[key] = ",".join(values)
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[
            Metric(metric_key(name, "success_ratio"), result.success_ratio, now, 0),
            Metric(metric_key(name, "failed_count"), float(result.failed), now, 0),
        ],
        tags=[RunTag(k, v) for k, v in tags.items() if v],
        synchronous=True,  # the kernel's async logging would let search miss fresh results
    )
    client.log_text(run_id, result.to_json(), f"quality/{name}/result.json")
    client.log_text(run_id, _report_page(result), f"quality/{name}/report.html")
    if own_run:
        client.set_terminated(run_id, "FINISHED" if result.success else "FAILED")
    return run_id


def _report_page(result: CheckResult) -> str:
    return (
        "<!doctype html><html><head><meta charset='utf-8'>"
        f"<title>{result.name}</title></head><body>{result._repr_html_()}</body></html>"
    )


# -- search --------------------------------------------------------------------------------------
@dataclass
class CheckRecord:
    """One check kept in MLflow."""

    name: str
    dataset: str
    suite: str
    status: str
    success_ratio: float | None
    failed_count: float | None
    run_id: str
    run_name: str
    experiment_id: str
    start_time: int

    @property
    def path(self) -> str:
        """The run's page under the Jupyter server's MLflow proxy (relative to the base URL)."""
        return run_ui_path(self.experiment_id, self.run_id)


def find_results(
    config: MLPlat,
    dataset: str | None = None,
    suite: str | None = None,
    status: str | None = None,
    limit: int = 20,
) -> list[CheckRecord]:
    """Recent checks, newest first, optionally only of ``dataset``, ``suite`` or ``status``."""
    if status is not None and status not in STATUSES:
        raise InvalidInput(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    if limit < 1:
        raise InvalidInput("limit must be at least 1")
    if not config.tracking_uri:
        raise Unavailable("no tracking server configured (MLP_TRACKING_URI): nothing is kept")
    flush()
    from mlflow import MlflowClient

    client = MlflowClient(config.tracking_uri)
    filters = [f"tags.`{tag_key('checks')}` LIKE '%'"]
    if dataset:
        filters.append(f"tags.`{tag_key('datasets')}` LIKE '%{_like(dataset)}%'")
    if suite:
        filters.append(f"tags.`{tag_key('suites')}` LIKE '%{_like(suite)}%'")
    try:
        experiments = [e.experiment_id for e in client.search_experiments(max_results=1000)]
        runs = client.search_runs(
            experiments,
            filter_string=" and ".join(filters),
            order_by=["attributes.start_time DESC"],
            max_results=max(limit * 5, 100),
        )
    except Exception as err:
        raise Unavailable(f"cannot search MLflow at {config.tracking_uri}: {err}") from None
    records = []
    for run in runs:
        tags, metrics = run.data.tags, run.data.metrics
        for name in filter(None, tags.get(tag_key("checks"), "").split(",")):
            record = CheckRecord(
                name=name,
                dataset=tags.get(tag_key(name, "dataset"), ""),
                suite=tags.get(tag_key(name, "suite"), ""),
                status=tags.get(tag_key(name, "status"), ""),
                success_ratio=metrics.get(metric_key(name, "success_ratio")),
                failed_count=metrics.get(metric_key(name, "failed_count")),
                run_id=run.info.run_id,
                run_name=run.info.run_name or "",
                experiment_id=run.info.experiment_id,
                start_time=run.info.start_time or 0,
            )
            if dataset and record.dataset != dataset:
                continue
            if suite and record.suite != suite:
                continue
            if status and record.status != status:
                continue
            records.append(record)
    return records[:limit]


def _like(value: str) -> str:
    if "'" in value:
        raise InvalidInput(f"a quote is not allowed in a search value: {value!r}")
    return value
