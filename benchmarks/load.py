"""Load: 50 concurrent clients for 60 s on loopback against the platform's busiest surfaces —
catalog search, the MLflow proxy, the one search and the local inference gateway.

A platform of its own (``mlplat up`` in a temporary directory, or ``--state-dir`` of a running
one) with a small registered model deployed locally. Each client is given one surface (round
robin) and sends keep-alive requests until the deadline or ``--max-requests`` in all: bounded
and self-stopping. Prints per surface the requests, errors (any non-2xx or failed connection),
p50 / p99 latency and requests/s. Goal: 0 errors. Asserts nothing; exits 1 on errors.

    .venv/bin/python benchmarks/load.py [--clients 50] [--seconds 60] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import http.client
import json
import statistics
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from contextlib import ExitStack
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

MODEL = "load-bench"


def platform_urls(stack: ExitStack, state_dir: str) -> dict[str, Any]:
    """``platform.json`` of a running platform, or of one started here."""
    if state_dir:
        return dict(json.loads((Path(state_dir) / "platform.json").read_text()))
    from tests.conftest import start_platform, stop_platform

    base = Path(stack.enter_context(tempfile.TemporaryDirectory(prefix="mlplat-load-")))
    print("starting the platform ...", flush=True)
    platform = start_platform(base, base / "state")
    stack.callback(stop_platform, platform)
    return platform.runtime


def deploy_model(runtime: dict[str, Any]) -> tuple[str, bytes]:
    """Register a small classifier and deploy it locally; (gateway endpoint, one-row V2 body)."""
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(runtime["tracking_uri"])
    frame, labels = load_iris(return_X_y=True, as_frame=True)
    frame.columns = [f"f{i}" for i in range(frame.shape[1])]
    mlflow.set_experiment("load-bench")
    with mlflow.start_run():
        mlflow.sklearn.log_model(
            LogisticRegression(max_iter=500).fit(frame, labels),
            name="model",
            input_example=frame.head(2),
            registered_model_name=MODEL,
        )
    lab = Client(f"http://127.0.0.1:{runtime['lab_port']}", runtime["token"])
    status, body = lab.request(
        "POST", "/mlplat/api/deployments", {"model_uri": f"models:/{MODEL}/1"}
    )
    assert status == 202, body
    print("deploying ...", flush=True)
    deadline = time.monotonic() + 600
    while True:
        _, body = lab.request("GET", f"/mlplat/api/deployments/{MODEL}")
        deployment = json.loads(body)
        if deployment["state"] != "deploying":
            break
        assert time.monotonic() < deadline, deployment
        time.sleep(1)
    assert deployment["state"] == "ready", deployment
    row = frame.iloc[0]
    inputs = [{"name": c, "shape": [1], "datatype": "FP64", "data": [float(row[c])]} for c in frame]
    return deployment["endpoint"], json.dumps({"inputs": inputs}).encode()


class Client:
    """One keep-alive HTTP connection; ``request`` → (status, body), reconnecting once."""

    def __init__(self, base: str, token: str = "") -> None:
        parsed = urlparse(base)
        self.host, self.port, self.prefix = parsed.hostname or "", parsed.port or 80, parsed.path
        self.headers = {"Content-Type": "application/json"}
        if token:
            self.headers["Authorization"] = f"token {token}"
        self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def request(self, method: str, path: str, body: Any = None) -> tuple[int, bytes]:
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        for attempt in (1, 2):
            try:
                self.connection.request(method, self.prefix.rstrip("/") + path, data, self.headers)
                response = self.connection.getresponse()
                return response.status, response.read()
            except (ConnectionError, http.client.HTTPException):
                self.connection.close()
                self.connection = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")


def surfaces(runtime: dict[str, Any], endpoint: str, infer: bytes) -> dict[str, Any]:
    """Surface → (a client factory, the request one client sends)."""
    lab = f"http://127.0.0.1:{runtime['lab_port']}"
    token = runtime["token"]

    def catalog() -> Callable[[Client], tuple[int, bytes]]:
        return lambda c: c.request("GET", "/mlplat/api/catalog/search?q=iris")

    def mlflow_proxy() -> Callable[[Client], tuple[int, bytes]]:
        path = "/mlplat/mlflow/ajax-api/2.0/mlflow/experiments/search"
        return lambda c: c.request("POST", path, {"max_results": 10})

    def search() -> Callable[[Client], tuple[int, bytes]]:
        return lambda c: c.request("GET", f"/mlplat/api/search?q={MODEL}")

    def gateway() -> Callable[[Client], tuple[int, bytes]]:
        return lambda c: c.request("POST", f"/v2/models/{MODEL}/infer", infer)

    return {
        "catalog search": (lambda: Client(lab, token), catalog()),
        "MLflow proxy": (lambda: Client(lab, token), mlflow_proxy()),
        "one search": (lambda: Client(lab, token), search()),
        "inference gateway": (lambda: Client(endpoint), gateway()),
    }


def run_load(targets: dict[str, Any], clients: int, seconds: float, max_requests: int):
    results: dict[str, list[float]] = {name: [] for name in targets}
    errors: dict[str, list[str]] = {name: [] for name in targets}
    lock, budget = threading.Lock(), [max_requests]
    deadline = time.monotonic() + seconds
    names = list(targets)

    def client(index: int) -> None:
        name = names[index % len(names)]
        connect, send = targets[name]
        connection = connect()
        while time.monotonic() < deadline:
            with lock:
                if budget[0] <= 0:
                    return
                budget[0] -= 1
            started = time.perf_counter()
            try:
                status, body = send(connection)
                failed = "" if 200 <= status < 300 else f"{status} {body[:120]!r}"
            except Exception as err:  # every failure counts, none stops the run
                failed = f"{type(err).__name__}: {err}"
            elapsed = time.perf_counter() - started
            with lock:
                if failed:
                    errors[name].append(failed)
                else:
                    results[name].append(elapsed)

    threads = [threading.Thread(target=client, args=(i,), daemon=True) for i in range(clients)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(seconds + 120)  # bounded even if a request hangs past its timeout
    return results, errors


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--max-requests", type=int, default=200_000)
    parser.add_argument("--state-dir", default="", help="use the platform running there")
    args = parser.parse_args()
    with ExitStack() as stack:
        runtime = platform_urls(stack, args.state_dir)
        endpoint, infer = deploy_model(runtime)
        targets = surfaces(runtime, endpoint, infer)
        print(
            f"{args.clients} clients for {args.seconds:.0f} s on {', '.join(targets)}", flush=True
        )
        results, errors = run_load(targets, args.clients, args.seconds, args.max_requests)
    total_errors = 0
    print(
        f"\n{'surface':18} {'requests':>9} {'errors':>7} {'p50 ms':>8} {'p99 ms':>8} {'req/s':>7}"
    )
    for name, times in results.items():
        total_errors += len(errors[name])
        p50 = statistics.median(times) * 1000 if times else float("nan")
        p99 = statistics.quantiles(times, n=100)[-1] * 1000 if len(times) > 1 else float("nan")
        print(
            f"{name:18} {len(times) + len(errors[name]):9d} {len(errors[name]):7d} "
            f"{p50:8.1f} {p99:8.1f} {len(times) / args.seconds:7.1f}"
        )
        for message in sorted(set(errors[name]))[:3]:
            print(f"    e.g. {message}")
    print(f"errors: {total_errors} (goal 0)")
    return 1 if total_errors else 0


if __name__ == "__main__":
    sys.exit(main())
