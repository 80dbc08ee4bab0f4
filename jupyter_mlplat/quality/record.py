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

log = logging.getLogger(__name__)

KIND_TAG = "mlplat.kind"
KIND = "quality-check"
LIST_TAGS = {"checks": "name", "datasets": "dataset", "suites": "suite"}
STATUSES = ("passed", "failed")

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

        experiment_id = _experiment_id(client, config)
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
        f"mlplat.quality.{name}.status": result.status,
        f"mlplat.quality.{name}.dataset": result.dataset,
        f"mlplat.quality.{name}.suite": result.suite,
    }
    for list_tag, attribute in LIST_TAGS.items():
        key = f"mlplat.quality.{list_tag}"
        values = [v for v in existing.get(key, "").split(",") if v]
        value = getattr(result, attribute)
        if value and value not in values:
            values.append(value)
        tags[key] = ",".join(values)
    now = int(time.time() * 1000)
    client.log_batch(
        run_id,
        metrics=[
            Metric(f"quality.{name}.success_ratio", result.success_ratio, now, 0),
            Metric(f"quality.{name}.failed_count", float(result.failed), now, 0),
        ],
        tags=[RunTag(k, v) for k, v in tags.items() if v],
        synchronous=True,  # the kernel's async logging would let search miss fresh results
    )
    client.log_text(run_id, result.to_json(), f"quality/{name}/result.json")
    client.log_text(run_id, _report_page(result), f"quality/{name}/report.html")
    if own_run:
        client.set_terminated(run_id, "FINISHED" if result.success else "FAILED")
    return run_id


def _experiment_id(client: Any, config: MLPlat) -> str:
    name = config.experiment_for(config.notebook_path)
    experiment = client.get_experiment_by_name(name)
    if experiment is not None:
        return str(experiment.experiment_id)
    try:
        return str(client.create_experiment(name))
    except Exception:  # created meanwhile by another kernel
        experiment = client.get_experiment_by_name(name)
        if experiment is None:
            raise
        return str(experiment.experiment_id)


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
        return f"mlplat/mlflow/#/experiments/{self.experiment_id}/runs/{self.run_id}"


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
    filters = ["tags.`mlplat.quality.checks` LIKE '%'"]
    if dataset:
        filters.append(f"tags.`mlplat.quality.datasets` LIKE '%{_like(dataset)}%'")
    if suite:
        filters.append(f"tags.`mlplat.quality.suites` LIKE '%{_like(suite)}%'")
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
        for name in filter(None, tags.get("mlplat.quality.checks", "").split(",")):
            record = CheckRecord(
                name=name,
                dataset=tags.get(f"mlplat.quality.{name}.dataset", ""),
                suite=tags.get(f"mlplat.quality.{name}.suite", ""),
                status=tags.get(f"mlplat.quality.{name}.status", ""),
                success_ratio=metrics.get(f"quality.{name}.success_ratio"),
                failed_count=metrics.get(f"quality.{name}.failed_count"),
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
