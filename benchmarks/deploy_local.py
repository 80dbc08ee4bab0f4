"""Local deploy: deploy → ready time, V2 inference through the gateway ÷ ``mlflow models
serve``, and the memory of one deployment.

Both servers serve the same saved sklearn model in the same run:

* platform: the deploy service's local target (one in-process MLServer + mlserver-mlflow from
  the serving environment, behind the HAProxy gateway), measured from the deploy call to
  ready; then V2 requests (``/v2/models/<name>/infer``) at the deployment's stable URL (the
  gateway), and for comparison at the model server's own port;
* baseline: ``mlflow models serve --env-manager local`` from the notebook environment and its
  ``/invocations`` endpoint.

Load: keep-alive HTTP clients on threads, one row per request, at concurrency 1 and 8.
Goals: deploy → ready ≤ 10 s; throughput ratio ≥ 2.0 at both. Memory: resident memory (RSS) of
the deployment's server processes, of the gateway (shared by all deployments) and of the
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


def deploy_platform(state: Path, model_dir: Path, runs: int) -> tuple[list[float], str, object]:
    """Deploy ``runs`` times (new name each time); return ready times, last endpoint, service."""
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.deploy.models import DeployRequest, ModelRef
    from jupyter_mlplat.deploy.service import DeployService

    env_dir = os.environ.get("MLP_SERVING_ENV_DIR") or str(ROOT / ".cache" / "serving-env")
    config = MLPlat(env={"MLP_STATE_DIR": str(state), "MLP_SERVING_ENV_DIR": env_dir})

    def resolver(_: MLPlat, uri: str) -> ModelRef:
        return ModelRef(uri, "bench", "1", uri, model_dir.as_uri())

    service = DeployService(config, resolver=resolver)
    service._backend("local").env.ensure()  # a warm serving environment, as after setup
    times, endpoint = [], ""
    for index in range(runs):
        name = f"bench-{index}"
        started = time.monotonic()
        service.deploy(DeployRequest("models:/bench/1", name=name))
        deployment = service.wait(name, 600)
        times.append(time.monotonic() - started)
        if deployment.state != "ready":
            raise SystemExit(f"deploy failed: {deployment.message}")
        endpoint = deployment.endpoint
        if index < runs - 1:
            service.delete(name)
    return times, endpoint, service


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
    work = Path(tempfile.mkdtemp(prefix="mlplat-bench-deploy-"))
    model_dir = work / "model"
    columns, rows = save_model(model_dir)
    times, endpoint, service = deploy_platform(work / "state", model_dir, args.deploys)
    print(f"deploy -> ready: median {statistics.median(times):.1f} s (runs: "
          f"{', '.join(f'{t:.1f}' for t in times)}; goal <= 10 s)")  # fmt: skip
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
        gateway = service._backend("local").gateway  # type: ignore[attr-defined]
        print(
            f"memory: deployment {_rss([s['pid'] for s in servers]):.0f} MB "
            f"({len(servers)} MLServer process(es), no worker) | gateway "
            f"{_rss([gateway.master_pid() or 0]):.0f} MB (HAProxy, shared) | "
            f"mlflow models serve {_rss([baseline.process.pid]):.0f} MB"  # type: ignore[union-attr]
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
        for concurrency in (1, 8):
            load(port, f"/v2/models/{name}/infer", v2[:100], concurrency)  # warm up
            load(baseline_port, "/invocations", classic[:100], concurrency)
            ours, our_lat = load(port, f"/v2/models/{name}/infer", v2, concurrency)
            base, base_lat = load(baseline_port, "/invocations", classic, concurrency)
            direct, direct_lat = load(servers[0]["port"], f"/v2/models/{name}/infer", v2,
                                      concurrency)  # fmt: skip
            print(
                f"concurrency {concurrency}: gateway {ours:.0f} req/s ({_latency(our_lat)}) | "
                f"mlflow serve {base:.0f} req/s ({_latency(base_lat)}) | "
                f"throughput ratio {ours / base:.2f} (goal >= 2.0) | MLServer without the "
                f"gateway {direct:.0f} req/s ({_latency(direct_lat)})"
            )
    finally:
        baseline.stop()
        for deployment in service.list():  # type: ignore[attr-defined]
            service.delete(deployment.name)  # type: ignore[attr-defined]
        shutil.rmtree(work, ignore_errors=True)


def _latency(latencies: list[float]) -> str:
    return (
        f"p50 {percentile(latencies, 0.5) * 1000:.1f} ms, "
        f"p99 {percentile(latencies, 0.99) * 1000:.1f} ms"
    )


def _rss(pids: list[int]) -> float:
    """Resident MB of these processes and their children."""
    import psutil

    total = 0
    for pid in pids:
        try:
            process = psutil.Process(pid)
            for each in [process, *process.children(recursive=True)]:
                total += each.memory_info().rss
        except psutil.Error:
            continue
    return total / 2**20


def _predict(port: int, path: str, body: bytes) -> dict:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    connection.request("POST", path, body, {"Content-Type": "application/json"})
    reply = json.loads(connection.getresponse().read())
    connection.close()
    return dict(reply)


if __name__ == "__main__":
    main()
