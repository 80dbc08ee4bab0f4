"""The one search's latency with 100k runs and 10k model versions in a real MLflow server.

Setup (timed separately): a SQLite MLflow backend whose schema MLflow's own ``SqlAlchemyStore``
creates (its migrations), then filled with bulk ``INSERT``s through MLflow's own SQLAlchemy
table definitions (``mlflow.store.tracking.dbmodels.models`` / ``model_registry.dbmodels``):
runs with a metric (``metrics`` + ``latest_metrics``, as ``log_batch`` writes them), two params
and a tag, spread over 20 experiments; 1,000 registered models with 10 versions each, every
version pointing at one of the runs. Logging 100k runs through the REST API would take hours
on this machine; the rows are the ones the API would write. A catalog index of 10k tables
(one in four described, with column comments) and an empty reports index complete the set.

Then a real ``mlflow server`` (the platform's options: uvicorn, one worker) serves the file; the
platform's search index (:mod:`jupyter_mlplat.search.index`, SQLite by default or PostgreSQL with
``--index-url``) makes its first full sync from it through MLflow's REST API (timed), then an
incremental one with nothing new (timed). The search service (the REST handler's one call)
answers a fixed mix of queries from the index: p50 / p95 per query (wall clock, and the CPU
time of the searching thread, which the machine's load does not change) over ``--rounds`` rounds
after a warm-up. The baseline is the same service answering from MLflow's own search (what it
does before the index's first sync), ``--baseline-rounds`` rounds (slow: 0 skips it). Goal:
p95 <= 50 ms. Timings are reported, never asserted.

    .venv/bin/python benchmarks/search.py [--runs 100000] [--versions 10000] [--rounds 30]
        [--baseline-rounds 3] [--index-url postgresql://...]
"""

from __future__ import annotations

import argparse
import os
import random
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from pathlib import Path
from typing import Any

EXPERIMENTS = 20
VERSIONS_PER_MODEL = 10
TABLES = 10_000
SEED = 20261130
QUERIES = [
    ("metric threshold -> versions", "metric.rmse < 25 kind:version"),
    ("metric threshold -> models", "metric.rmse < 25 kind:model"),
    ("param >= -> runs", "param.alpha >= 9.5 kind:run"),
    ("param = -> runs", "param.solver = saga kind:run"),
    ("model:name version:n", "model:model-0042 version:3"),
    ("tag -> models", "tag.team = fraud kind:model"),
    ("word everywhere", "churn"),
    ("column comment", "kind:table|column quantitative"),
    ("OR of two kinds", "metric.rmse < 25 kind:version OR table:sales.orders_0007"),
]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def fill_mlflow(db: Path, runs: int, versions: int) -> dict[str, float]:
    """Create the backend with MLflow's store, then bulk-insert runs and versions."""
    from mlflow.store.model_registry.dbmodels import models as registry_models
    from mlflow.store.model_registry.sqlalchemy_store import SqlAlchemyStore as RegistryStore
    from mlflow.store.tracking.dbmodels import models as tracking_models
    from mlflow.store.tracking.sqlalchemy_store import SqlAlchemyStore

    timings: dict[str, float] = {}
    started = time.perf_counter()
    uri = f"sqlite:///{db}"
    store = SqlAlchemyStore(uri, str(db.parent / "artifacts"))
    RegistryStore(uri)
    experiment_ids = [
        store.create_experiment(f"/Users/ada/bench-{i:02d}") for i in range(EXPERIMENTS)
    ]
    timings["schema (SqlAlchemyStore migrations)"] = time.perf_counter() - started

    started = time.perf_counter()
    rng = random.Random(SEED)
    now = int(time.time() * 1000)
    words = ["churn", "fraud", "ltv", "ranker", "forecast", "uplift"]
    run_rows, metric_rows, latest_rows, param_rows, tag_rows = [], [], [], [], []
    run_ids = []
    for i in range(runs):
        run_id = uuid.uuid4().hex
        run_ids.append(run_id)
        experiment = experiment_ids[i % EXPERIMENTS]
        start = now - (runs - i) * 1000
        run_rows.append(
            {
                "run_uuid": run_id,
                "name": f"{words[i % len(words)]}-{i}",
                "source_type": "LOCAL",
                "source_name": "",
                "entry_point_name": "",
                "user_id": "ada",
                "status": "FINISHED",
                "start_time": start,
                "end_time": start + 500,
                "deleted_time": None,
                "source_version": "",
                "lifecycle_stage": "active",
                "artifact_uri": f"mlflow-artifacts:/{experiment}/{run_id}/artifacts",
                "experiment_id": int(experiment),
            }
        )
        rmse = round(rng.uniform(20, 100), 3)
        metric = {
            "key": "rmse",
            "value": rmse,
            "timestamp": start,
            "step": 0,
            "is_nan": False,
            "run_uuid": run_id,
        }
        metric_rows.append(metric)
        latest_rows.append(dict(metric))
        param_rows.append(
            {"key": "alpha", "value": str(round(rng.uniform(0, 10), 2)), "run_uuid": run_id}
        )
        param_rows.append(
            {"key": "solver", "value": rng.choice(["lbfgs", "saga", "auto"]), "run_uuid": run_id}
        )
        tag_rows.append({"key": "mlflow.user", "value": "ada", "run_uuid": run_id})
        tag_rows.append(
            {"key": "mlflow.runName", "value": run_rows[-1]["name"], "run_uuid": run_id}
        )
    models = max(1, versions // VERSIONS_PER_MODEL)
    model_rows, version_rows, model_tag_rows = [], [], []
    for m in range(models):
        name = f"model-{m:04d}"
        model_rows.append(
            {
                "workspace": "default",
                "name": name,
                # registered over the past: a sync's watermark then leaves most behind it
                "creation_time": now - (models - m) * 10_000,
                "last_updated_time": now - (models - m) * 10_000 + VERSIONS_PER_MODEL,
                "description": f"{words[m % 6]} model",
            }
        )
        model_tag_rows.append(
            {
                "workspace": "default",
                "name": name,
                "key": "team",
                "value": rng.choice(["fraud", "growth", "risk"]),
            }
        )
        for v in range(1, VERSIONS_PER_MODEL + 1):
            run_id = run_ids[rng.randrange(runs)]
            version_rows.append(
                {
                    "workspace": "default",
                    "name": name,
                    "version": v,
                    "creation_time": now - (models - m) * 10_000 + v,
                    "last_updated_time": now - (models - m) * 10_000 + v,
                    "description": "",
                    "user_id": "ada",
                    "current_stage": "None",
                    "source": f"runs:/{run_id}/model",
                    "storage_location": "",
                    "run_id": run_id,
                    "run_link": "",
                    "status": "READY",
                    "status_message": "",
                }
            )
    engine = store.engine
    with engine.begin() as conn:
        for model, rows in (
            (tracking_models.SqlRun, run_rows),
            (tracking_models.SqlMetric, metric_rows),
            (tracking_models.SqlLatestMetric, latest_rows),
            (tracking_models.SqlParam, param_rows),
            (tracking_models.SqlTag, tag_rows),
            (registry_models.SqlRegisteredModel, model_rows),
            (registry_models.SqlRegisteredModelTag, model_tag_rows),
            (registry_models.SqlModelVersion, version_rows),
        ):
            for start in range(0, len(rows), 20_000):
                conn.execute(model.__table__.insert(), rows[start : start + 20_000])
    engine.dispose()
    timings[f"bulk insert ({runs} runs, {len(version_rows)} versions)"] = (
        time.perf_counter() - started
    )
    return timings


def fill_catalog(path: Path) -> Any:
    from jupyter_mlplat.catalog.index import CatalogIndex, Column, TableEntry

    rng = random.Random(SEED)
    index = CatalogIndex(path)
    for d, database in enumerate(["sales", "ops", "growth", "risk", "finance"]):
        tables = []
        for t in range(TABLES // 5):
            columns = ()
            if t % 4 == 0:
                columns = tuple(
                    Column(
                        f"col_{c}",
                        "double",
                        comment=rng.choice(
                            ["", "amount in EUR", "customer id", "days since signup"]
                        ),
                    )
                    for c in range(8)
                )
                if t == 400 and d == 0:
                    columns += (Column("score", "double", comment="Quantitative risk score"),)
            tables.append(
                TableEntry(database, f"orders_{t:04d}", f"{database} table {t}", columns=columns)
            )
        index.replace_database(database, tables)
    return index


def start_mlflow(db: Path, port: int, log: Path) -> subprocess.Popen[bytes]:
    command = [
        sys.executable,
        "-m",
        "mlflow",
        "server",
        "--backend-store-uri",
        f"sqlite:///{db}",
        "--artifacts-destination",
        str(db.parent / "artifacts"),
        "--default-artifact-root",
        "mlflow-artifacts:/",
        "--serve-artifacts",
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        "--workers",
        "1",
    ]
    env = dict(
        os.environ, MLFLOW_DISABLE_TELEMETRY="true", MLFLOW_SERVER_ENABLE_JOB_EXECUTION="false"
    )
    process = subprocess.Popen(
        command, stdout=log.open("ab"), stderr=subprocess.STDOUT, env=env, start_new_session=True
    )
    deadline = time.monotonic() + 180
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/health", timeout=2):
                return process
        except OSError:
            time.sleep(0.5)
    process.terminate()
    raise RuntimeError(log.read_text()[-2000:])


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _timed(service: Any, query: str, rounds: int) -> tuple[float, float, float, float]:
    """p50 and p95 (ms) of ``rounds`` searches, wall clock and the CPU time of the thread
    searching (what the load of the machine does not change)."""
    samples, cpu = [], []
    for _ in range(rounds):
        started, thread = time.perf_counter(), time.thread_time()
        service.search(query, 20)
        samples.append((time.perf_counter() - started) * 1000)
        cpu.append((time.thread_time() - thread) * 1000)
    return (
        statistics.median(samples),
        percentile(samples, 0.95),
        statistics.median(cpu),
        percentile(cpu, 0.95),
    )


def _cpu(pid: int) -> float:
    """CPU seconds used so far by a process and its children (Linux /proc)."""
    total = 0.0
    pids = [pid]
    while pids:
        current = pids.pop()
        try:
            fields = Path(f"/proc/{current}/stat").read_text().rsplit(")", 1)[1].split()
            children = Path(f"/proc/{current}/task/{current}/children").read_text().split()
        except OSError:
            continue
        total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        pids += [int(c) for c in children]
    return total


def _ids(found: dict[str, Any]) -> dict[str, set[str]]:
    return {g["kind"]: {r["id"] for r in g["results"]} for g in found["groups"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=100_000)
    parser.add_argument("--versions", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--baseline-rounds", type=int, default=3)
    parser.add_argument("--index-url", default="", help="a PostgreSQL URL (default: SQLite)")
    options = parser.parse_args()

    from jupyter_mlplat.catalog.service import CatalogService
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.reports.index import SqliteIndex
    from jupyter_mlplat.reports.service import ReportsService
    from jupyter_mlplat.search.index import index_for
    from jupyter_mlplat.search.service import SearchService
    from jupyter_mlplat.search.sync import IndexSync

    with tempfile.TemporaryDirectory(prefix="mlplat-search-bench-") as folder:
        base = Path(folder)
        db = base / "mlflow.db"
        setup = fill_mlflow(db, options.runs, options.versions)
        started = time.perf_counter()
        catalog_index = fill_catalog(base / "catalog.sqlite")
        setup[f"catalog index ({TABLES} tables)"] = time.perf_counter() - started
        started = time.perf_counter()
        port = free_port()
        server = start_mlflow(db, port, base / "mlflow.log")
        setup["mlflow server to /health"] = time.perf_counter() - started
        try:
            config = MLPlat(
                tracking_uri=f"http://127.0.0.1:{port}",
                pipelines_dir=str(base / "pipelines"),
                state_dir=str(base / "state"),
                search_index_url=options.index_url,
            )
            catalog = CatalogService(config, backend=None, index=catalog_index)  # type: ignore[arg-type]
            reports = ReportsService(config, index=SqliteIndex(base / "reports.sqlite"))
            baseline = SearchService(config, catalog=catalog, reports=reports)
            index = index_for(config)
            sync = IndexSync(index, lambda: baseline.client)
            started, cpu, server_cpu = time.perf_counter(), time.process_time(), _cpu(server.pid)
            first = sync.run_once()
            setup[f"index: first full sync ({first.runs} runs, {first.versions} versions)"] = (
                time.perf_counter() - started
            )
            setup["  its CPU: this process (MLflow client + index writes)"] = (
                time.process_time() - cpu
            )
            setup["  its CPU: the mlflow server"] = _cpu(server.pid) - server_cpu
            started = time.perf_counter()
            sync.run_once()
            setup["index: incremental sync, nothing new"] = time.perf_counter() - started
            service = SearchService(config, catalog=catalog, reports=reports, index=index)
            # as on the server: the index (and the reports index) synced every 2 s meanwhile
            service.start_sync()
            print(f"setup ({options.runs} runs, {options.versions} versions):")
            for what, seconds in setup.items():
                print(f"  {what:<55} {seconds:8.2f} s")
            print(f"\nindex: {'PostgreSQL' if options.index_url else 'SQLite'}")
            print(f"{'query':<32} {'results':>7} {'p50 ms':>8} {'p95 ms':>8} {'CPU p50':>8}"
                  f" {'CPU p95':>8} {'MLflow p50':>10} {'ratio':>6}  q")  # fmt: skip
            worst = 0.0
            for label, query in QUERIES:
                found = service.search(query, 20)  # warm-up (and the result count)
                p50, p95, cpu50, cpu95 = _timed(service, query, options.rounds)
                worst = max(worst, p95)
                old, ratio = "", ""
                if options.baseline_rounds > 0:
                    expected = baseline.search(query, 20)
                    if _ids(expected) != _ids(found):
                        print(f"  (results differ from MLflow's for {query!r})")
                    old_p50 = _timed(baseline, query, options.baseline_rounds)[0]
                    old, ratio = f"{old_p50:10.1f}", f"{old_p50 / p50:5.0f}x"
                print(f"{label:<32} {found['total']:>7} {p50:8.1f} {p95:8.1f} {cpu50:8.1f} "
                      f"{cpu95:8.1f} {old:>10} {ratio:>6}  {query}")  # fmt: skip
            print(f"\nworst p95: {worst:.1f} ms (goal <= 50 ms); load: {os.getloadavg()}")
            if service.syncer and service.syncer.last:
                print(f"background sync meanwhile, the last: {service.syncer.last}")
            service.close()
        finally:
            server.terminate()
            server.wait(30)


if __name__ == "__main__":
    main()
