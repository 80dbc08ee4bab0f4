"""The embedded Airflow: what it costs and how fast its scheduler starts a task.

Starts a local platform (MLflow + JupyterLab, no Spark) under a temporary directory with an
empty pipelines folder, measures it idle, writes a one-task DAG file (the cue that starts
Airflow), then:

* startup: ``airflow db migrate`` + the three processes healthy;
* memory: RSS and PSS (shared pages counted once) of the Airflow process trees, idle and the
  peak while runs execute, next to the idle platform's (PSS is what the machine really pays);
* latency, for ``-n`` runs triggered one after another through the REST API: run queued →
  run started by the scheduler → task instance queued → task started (Airflow's own
  timestamps), and the whole run.

Prints JSON; asserts nothing:

    .venv/bin/python benchmarks/pipelines_scheduler.py [-n 5]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import tempfile
import threading
import time
from datetime import datetime
from pathlib import Path
from typing import Any

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

DAG = """
from datetime import datetime

from airflow.sdk import dag, task


@dag(schedule=None, start_date=datetime(2024, 1, 1), catchup=False, tags=["owner:bench"])
def bench_tick():
    @task
    def tick():
        return 1

    tick()


bench_tick()
"""


def tree_memory(pids: list[int]) -> dict[str, float]:
    """RSS and PSS (MiB) and process count of the trees rooted at ``pids``."""
    import psutil

    procs: dict[int, Any] = {}
    for pid in pids:
        try:
            root = psutil.Process(pid)
        except psutil.NoSuchProcess:
            continue
        for proc in [root, *root.children(recursive=True)]:
            procs[proc.pid] = proc
    rss = pss = 0
    for proc in procs.values():
        try:
            info = proc.memory_full_info()
        except (psutil.NoSuchProcess, psutil.AccessDenied):
            continue
        rss += info.rss
        pss += getattr(info, "pss", info.rss)
    mib = 1024 * 1024
    return {"rss_mib": round(rss / mib), "pss_mib": round(pss / mib), "processes": len(procs)}


def stamp(value: str | None) -> float:
    return datetime.fromisoformat(value.replace("Z", "+00:00")).timestamp() if value else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5, help="runs to trigger (default 5)")
    args = parser.parse_args()

    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.pipelines.airflow import AirflowClient

    from jupyter_mlplat.platform.local import LocalPlatform  # isort: skip

    result: dict[str, Any] = {}
    with tempfile.TemporaryDirectory(prefix="mlplat-bench-") as tmp:
        base = Path(tmp)
        notebooks = base / "notebooks"
        (notebooks / "pipelines").mkdir(parents=True)
        config = MLPlat(env={"MLP_USER": "bench"})
        config.state_dir = str(base / "state")
        platform = LocalPlatform(config, notebooks, spark=False)
        try:
            platform.start()
            time.sleep(5)
            platform.supervise()  # no DAG file: nothing starts
            core = [s.process.pid for s in platform.services if s.process]
            result["platform_idle"] = tree_memory(core)
            result["airflow_started_without_dags"] = platform.airflow is not None

            (notebooks / "pipelines" / "bench_tick.py").write_text(DAG)
            started = time.monotonic()
            result["startup_seconds"] = platform.start_pipelines()
            result["startup_seconds"]["total"] = round(time.monotonic() - started, 1)
            airflow = platform.airflow
            assert airflow is not None
            pids = list(airflow.pids().values())
            client = AirflowClient(airflow.url)
            while True:  # parsed
                dags = client.get("/api/v2/dags").get("dags", [])
                if any(d["dag_id"] == "bench_tick" for d in dags):
                    break
                time.sleep(1)
            time.sleep(10)
            result["airflow_idle"] = tree_memory(pids)

            peak: dict[str, float] = {"rss_mib": 0, "pss_mib": 0, "processes": 0}
            sampling = threading.Event()

            def sample() -> None:
                while not sampling.wait(0.5):
                    now = tree_memory(pids)
                    for key, value in now.items():
                        peak[key] = max(peak[key], value)

            sampler = threading.Thread(target=sample, daemon=True)
            sampler.start()
            latencies: dict[str, list[float]] = {
                "queued_to_run_started": [],
                "run_started_to_task_queued": [],
                "task_queued_to_task_started": [],
                "queued_to_task_started": [],
                "run_total": [],
            }
            for _ in range(args.n):
                run = client.post("/api/v2/dags/bench_tick/dagRuns", {"logical_date": None})
                run_id = run["dag_run_id"]
                path = f"/api/v2/dags/bench_tick/dagRuns/{run_id}"
                while run.get("state") not in ("success", "failed"):
                    time.sleep(0.5)
                    run = client.get(path.replace("+", "%2B"))
                (ti,) = client.get(path.replace("+", "%2B") + "/taskInstances")["task_instances"]
                queued = stamp(run["queued_at"])
                latencies["queued_to_run_started"].append(stamp(run["start_date"]) - queued)
                latencies["run_started_to_task_queued"].append(
                    stamp(ti["queued_when"]) - stamp(run["start_date"])
                )
                latencies["task_queued_to_task_started"].append(
                    stamp(ti["start_date"]) - stamp(ti["queued_when"])
                )
                latencies["queued_to_task_started"].append(stamp(ti["start_date"]) - queued)
                latencies["run_total"].append(stamp(run["end_date"]) - queued)
                result.setdefault("states", []).append(run["state"])
            sampling.set()
            sampler.join()
            result["airflow_peak"] = peak
            result["latency_seconds_median"] = {
                k: round(statistics.median(v), 2) for k, v in latencies.items()
            }
            result["latency_seconds_max"] = {k: round(max(v), 2) for k, v in latencies.items()}
            result["runs"] = args.n
            result["load_average"] = os.getloadavg()
        finally:
            platform.stop()
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
