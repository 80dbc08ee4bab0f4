"""Local deploy: deploy → ready time, V2 inference through the gateway ÷ ``mlflow models
serve``, and the memory of one deployment.

Both servers serve the same saved sklearn model (20 float columns, a column signature) in the
same run, and the same client (below) sends both the same rows:

* platform: the deploy service's local target (one in-process MLServer + mlserver-mlflow from
  the serving environment, forked from the warm model-server zygote after the first deploy,
  behind the HAProxy gateway), measured from the deploy call to ready, with the wall seconds
  of each progress step and the CPU seconds of this process (the Jupyter side), the model
  server and the zygote; then V2 requests (``/v2/models/<name>/infer``, the pandas codec the
  model's column signature asks for) at the deployment's stable URL (the gateway), and for
  comparison at the model server's own port;
* baseline: ``mlflow models serve --env-manager local`` (its defaults: one uvicorn worker)
  from the notebook environment and its ``/invocations`` endpoint (``dataframe_split``).

Load: keep-alive ``http.client`` connections on threads of this process, one row per
request, at concurrency 1 and 8. Besides requests/s and p50/p99 it prints the CPU
milliseconds per request of each server (HAProxy included on the gateway side) and of the
client: unlike requests/s they hardly depend on what else the machine runs.
Goals: deploy → ready ≤ 10 s; throughput ratio ≥ 2.0 at both. Memory: RSS and PSS of the
deployment's server processes, of the gateway (shared by all deployments) and of the
baseline. Prints numbers; asserts nothing.

    .venv/bin/python benchmarks/deploy_local.py [-n 2000]
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_mlplat.infra.processes import Service, free_port

ROOT = Path(__file__).resolve().parents[1]


def save_model(directory: Path) -> tuple[list[str], list[list[float]]]:
    import mlflow.sklearn
    import pandas as pd
    from sklearn.datasets import make_classification
    from sklearn.linear_model import LogisticRegression

    features, labels = make_classification(n_samples=2000, n_features=20, random_state=0)
    columns = [f"f{i}" for i in range(features.shape[1])]
    frame = pd.DataFrame(features, columns=columns)
    model = LogisticRegression(max_iter=500).fit(frame, labels)
    mlflow.sklearn.save_model(model, str(directory), input_example=frame.head(2))
    return columns, frame.head(200).values.tolist()


def deploy_platform(
    state: Path, model_dir: Path, runs: int
) -> tuple[list[float], str, object, list[str]]:
    """Deploy ``runs`` times (a new name each time, the earlier ones kept: the first starts
    the model-server zygote, the next ones fork from it); return ready times, last endpoint,
    the service and one line per deploy: wall seconds per progress step and CPU seconds."""
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.deploy.models import DeployRequest, ModelRef
    from jupyter_mlplat.deploy.service import DeployService

    env_dir = os.environ.get("MLP_SERVING_ENV_DIR") or str(ROOT / ".cache" / "serving-env")
    config = MLPlat(env={"MLP_STATE_DIR": str(state), "MLP_SERVING_ENV_DIR": env_dir})

    def resolver(_: MLPlat, uri: str) -> ModelRef:
        return ModelRef(uri, "bench", "1", uri, model_dir.as_uri())

    service = DeployService(config, resolver=resolver)
    service._backend("local").env.ensure()  # a warm serving environment, as after setup
    times, endpoint, phases = [], "", []
    for index in range(runs):
        name = f"bench-{index}"
        zygote_before = _zygote_pid(state)
        cpu_before = time.process_time()
        started = time.monotonic()
        service.deploy(DeployRequest("models:/bench/1", name=name))
        steps = _follow(service, name, started)
        deployment = service.wait(name, 600)
        times.append(time.monotonic() - started)
        if deployment.state != "ready":
            raise SystemExit(f"deploy failed: {deployment.message}")
        here = time.process_time() - cpu_before
        server = _cpu([s["pid"] for s in deployment.details["servers"]])
        zygote = _zygote_pid(state)
        how = "forked from the warm zygote" if zygote_before else "zygote started (cold)"
        if not zygote:
            how = "started directly (no zygote)"
        phases.append(
            f"  deploy {index + 1} ({how}): {times[-1]:.2f} s = "
            + " + ".join(f"{step} {seconds:.2f}" for step, seconds in steps)
            + f" | CPU s: this process {here:.2f}, model server {server:.2f}"
            + (f", zygote {_cpu([zygote], children=False):.2f} (its own, so far)" if zygote else "")
        )
        endpoint = deployment.endpoint  # the earlier ones stay deployed, as a user's would
    return times, endpoint, service, phases


def _follow(service: Any, name: str, started: float) -> list[tuple[str, float]]:
    """Wall seconds spent in each progress step of ``name``'s rollout (polled every 10 ms)."""
    steps: list[tuple[str, float]] = []
    last, since = "queued", started
    while True:
        record = service._load(name)  # the record as written, without asking the server
        step = str(record.details.get("progress", {}).get("step", record.state))
        step = step.split(" (", maxsplit=1)[0]  # "waiting ... (3 s)" is one step
        now = time.monotonic()
        if step != last or record.state != "deploying":
            steps.append((last, now - since))
            last, since = step, now
        if record.state != "deploying":
            return steps
        time.sleep(0.01)


def _zygote_pid(state: Path) -> int:
    try:
        pid = int(json.loads((state / "deployments" / "zygote.json").read_text())["pid"])
        os.kill(pid, 0)
    except (OSError, ValueError, KeyError):
        return 0
    return pid


def load(port: int, path: str, bodies: list[bytes], concurrency: int) -> tuple[float, list[float]]:
    """Send every body once over ``concurrency`` keep-alive connections: (req/s, latencies)."""
    latencies: list[float] = []
    lock = threading.Lock()
    chunks = [bodies[i::concurrency] for i in range(concurrency)]

    def client(chunk: list[bytes]) -> None:
        connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        mine = []
        for body in chunk:
            started = time.perf_counter()
            connection.request("POST", path, body, {"Content-Type": "application/json"})
            response = connection.getresponse()
            response.read()
            if response.status != 200:
                raise RuntimeError(f"{path}: HTTP {response.status}")
            mine.append(time.perf_counter() - started)
        connection.close()
        with lock:
            latencies.extend(mine)

    threads = [threading.Thread(target=client, args=(chunk,)) for chunk in chunks]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return len(bodies) / (time.perf_counter() - started), latencies


def v2_body(columns: list[str], row: list[float]) -> bytes:
    inputs = [
        {"name": c, "shape": [1], "datatype": "FP64", "data": [v]}
        for c, v in zip(columns, row, strict=True)
    ]
    return json.dumps({"parameters": {"content_type": "pd"}, "inputs": inputs}).encode()


def mlflow_body(columns: list[str], row: list[float]) -> bytes:
    return json.dumps({"dataframe_split": {"columns": columns, "data": [row]}}).encode()


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=2000, help="requests per measurement")
    parser.add_argument("--deploys", type=int, default=3, help="deploy → ready repetitions")
    parser.add_argument(
        "--workers", type=int, default=None, help="MLServer parallel_workers (default: platform's)"
    )
    args = parser.parse_args()
    if args.workers is not None:
        from jupyter_mlplat.deploy import local

        local.PARALLEL_WORKERS = args.workers
    print(f"load average at start: {_load()}")
    work = Path(tempfile.mkdtemp(prefix="mlplat-bench-deploy-"))
    model_dir = work / "model"
    columns, rows = save_model(model_dir)
    times, endpoint, service, phases = deploy_platform(work / "state", model_dir, args.deploys)
    print(f"deploy -> ready: median {statistics.median(times):.1f} s (runs: "
          f"{', '.join(f'{t:.1f}' for t in times)}; goal <= 10 s; load {_load()})")  # fmt: skip
    print("\n".join(phases))
    baseline_port = free_port()
    baseline = Service(
        "mlflow-serve",
        [sys.executable, "-m", "mlflow", "models", "serve", "-m", str(model_dir),
         "--env-manager", "local", "-h", "127.0.0.1", "-p", str(baseline_port)],
        f"http://127.0.0.1:{baseline_port}/ping",
        work / "mlflow-serve.log",
        # it starts `uvicorn` from PATH: the notebook environment's
        {"MLFLOW_DISABLE_TELEMETRY": "true",
         "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}"},
    )  # fmt: skip
    started = time.monotonic()
    baseline.start()
    try:
        baseline.wait_ready(300)
        print(f"mlflow models serve -> ready: {time.monotonic() - started:.1f} s")
        port = int(endpoint.rsplit(":", 1)[1])
        name = f"bench-{args.deploys - 1}"
        deployment = service.get(name)  # type: ignore[attr-defined]
        servers = deployment.details["servers"]
        ours_pids = [s["pid"] for s in servers]
        gateway = service._backend("local").gateway  # type: ignore[attr-defined]
        gateway_pids = [gateway.master_pid() or 0]
        base_pids = [baseline.process.pid]  # type: ignore[union-attr]
        print(
            f"memory: deployment {_rss(ours_pids)} ({len(servers)} MLServer process(es), "
            f"no worker) | gateway {_rss(gateway_pids)} (HAProxy, shared by all deployments) "
            f"| mlflow models serve {_rss(base_pids)}"
        )
        v2 = [v2_body(columns, rows[i % len(rows)]) for i in range(args.n)]
        classic = [mlflow_body(columns, rows[i % len(rows)]) for i in range(args.n)]
        # identical predictions first
        sample = (
            [v2_body(columns, r) for r in rows[:20]],
            [mlflow_body(columns, r) for r in rows[:20]],
        )
        mine = [_predict(port, f"/v2/models/{name}/infer", b)["outputs"][0]["data"][0]
                for b in sample[0]]  # fmt: skip
        theirs = [_predict(baseline_port, "/invocations", b)["predictions"][0] for b in sample[1]]
        print(f"identical predictions on 20 rows: {mine == theirs}")
        infer = f"/v2/models/{name}/infer"
        for concurrency in (1, 8):
            load(port, infer, v2[:100], concurrency)  # warm up
            load(baseline_port, "/invocations", classic[:100], concurrency)
            ours = _measure(port, infer, v2, concurrency, ours_pids + gateway_pids)
            base = _measure(baseline_port, "/invocations", classic, concurrency, base_pids)
            direct = _measure(servers[0]["port"], infer, v2, concurrency, ours_pids)
            print(
                f"concurrency {concurrency} (load {_load()}): throughput ratio "
                f"{ours.rate / base.rate:.2f} (goal >= 2.0); server CPU per request ratio "
                f"{base.server_ms / ours.server_ms:.2f}\n"
                f"  gateway -> MLServer: {ours}\n  mlflow models serve:  {base}\n"
                f"  MLServer directly:   {direct}"
            )
    finally:
        baseline.stop()
        for deployment in service.list():  # type: ignore[attr-defined]
            service.delete(deployment.name)  # type: ignore[attr-defined]
        shutil.rmtree(work, ignore_errors=True)


class Measured:
    """One load run: rate, latencies, CPU milliseconds per request of servers and client."""

    def __init__(self, rate: float, latencies: list[float], server_ms: float, client_ms: float):
        self.rate, self.latencies = rate, latencies
        self.server_ms, self.client_ms = server_ms, client_ms

    def __str__(self) -> str:
        return (
            f"{self.rate:.0f} req/s ({_latency(self.latencies)}); CPU per request: server "
            f"{self.server_ms:.2f} ms, client {self.client_ms:.2f} ms"
        )


def _measure(port: int, path: str, bodies: list[bytes], concurrency: int, pids: list[int]):
    """``load`` plus the CPU time the servers (``pids`` and children) and this client spent:
    CPU per request does not depend on what else the machine runs, requests/s does."""
    server, client = _cpu(pids), time.process_time()
    rate, latencies = load(port, path, bodies, concurrency)
    server, client = _cpu(pids) - server, time.process_time() - client
    return Measured(rate, latencies, server / len(bodies) * 1000, client / len(bodies) * 1000)


def _load() -> str:
    return "/".join(f"{x:.1f}" for x in os.getloadavg())


def _cpu(pids: list[int], children: bool = True) -> float:
    """CPU seconds (user + system) of these processes (and their children) so far."""
    import psutil

    total = 0.0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for each in [process, *(process.children(recursive=True) if children else [])]:
                times = each.cpu_times()
                total += times.user + times.system
        except psutil.Error:
            continue
    return total


def _latency(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )


def _rss(pids: list[int]) -> str:
    """Resident MB of these processes and their children; PSS counts a page shared by n
    processes (a forked server and its zygote) as 1/n."""
    import psutil

    rss = pss = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for each in [process, *process.children(recursive=True)]:
                rss += each.memory_info().rss
                pss += getattr(each.memory_full_info(), "pss", 0)
        except psutil.Error:
            continue
    return f"{rss / 2**20:.0f} MB RSS ({pss / 2**20:.0f} MB PSS)"


def _predict(port: int, path: str, body: bytes) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    reply = json.loads(connection.getresponse().read())
    connection.close()
    return dict(reply)


if __name__ == "__main__":
    main()
