"""Local gateway under load: canary N % → promote → rollback, with clients sending all along.

Two versions of a model (two saved sklearn models) deploy through the deploy service's local
target; ``--concurrency`` keep-alive clients send V2 requests to the deployment's one URL the
whole time. Each answer says which version gave it (``model_version``), so the split is
measured over the requests answered while the canary serves (at least ``-n`` of them).
Goals: 0 failed requests, split = N % ± 2 %, the URL never changes. Prints numbers and exits
non-zero when a goal is missed.

    .venv/bin/python benchmarks/gateway_canary.py [-n 5000] [--canary 10] [--concurrency 8]

``tests/integration/test_gateway.py`` runs a small version of it in CI.
"""

from __future__ import annotations

import argparse
import http.client
import json
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

ROOT = Path(__file__).resolve().parents[1]
NAME = "canary-bench"


def save_models(directory: Path) -> dict[str, Any]:
    """Two versions (different regularisation) of one classifier; a one-row V2 body."""
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    frame, labels = load_iris(return_X_y=True, as_frame=True)
    frame.columns = [f"f{i}" for i in range(frame.shape[1])]
    for version, c in (("1", 1.0), ("2", 0.01)):
        model = LogisticRegression(C=c, max_iter=500).fit(frame, labels)
        mlflow.sklearn.save_model(model, str(directory / version), input_example=frame.head(2))
    row = frame.iloc[0]
    inputs = [
        {"name": c, "shape": [1], "datatype": "FP64", "data": [float(row[c])]}
        for c in frame.columns
    ]
    return {"parameters": {"content_type": "pd"}, "inputs": inputs}


@dataclass
class Load:
    """Clients sending the same request in a loop; every answer kept as (time, version)."""

    url: str
    name: str
    body: bytes
    concurrency: int
    answers: list[tuple[float, str]] = field(default_factory=list)
    failures: list[str] = field(default_factory=list)
    stopping: threading.Event = field(default_factory=threading.Event)
    threads: list[threading.Thread] = field(default_factory=list)

    def start(self) -> None:
        self.threads = [
            threading.Thread(target=self._client, daemon=True) for _ in range(self.concurrency)
        ]
        for thread in self.threads:
            thread.start()

    def stop(self) -> None:
        self.stopping.set()
        for thread in self.threads:
            thread.join(60)

    def _client(self) -> None:
        address = urlparse(self.url)
        path = f"/v2/models/{self.name}/infer"
        headers = {"Content-Type": "application/json"}
        connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        while not self.stopping.is_set():
            try:
                connection.request("POST", path, self.body, headers)
                response = connection.getresponse()
                data = response.read()
                if response.status != 200:
                    self.failures.append(f"HTTP {response.status}: {data[:200]!r}")
                    continue
                self.answers.append((time.monotonic(), json.loads(data)["model_version"]))
            except (OSError, http.client.HTTPException, ValueError, KeyError) as err:
                self.failures.append(f"{type(err).__name__}: {err}")
                connection.close()
                connection = http.client.HTTPConnection(address.hostname, address.port, timeout=60)
        connection.close()

    def between(self, start: float, end: float) -> Counter[str]:
        return Counter(v for t, v in list(self.answers) if start <= t < end)

    def wait_for(self, start: float, count: int, timeout: float = 600) -> None:
        deadline = time.monotonic() + timeout
        while sum(self.between(start, float("inf")).values()) < count:
            if time.monotonic() > deadline:
                raise RuntimeError(f"fewer than {count} answers in {timeout} s")
            time.sleep(0.1)


def run(
    service: Any, body: dict[str, Any], requests: int, canary: int, concurrency: int
) -> dict[str, Any]:
    """The scenario against a DeployService whose resolver knows versions 1 and 2."""
    from jupyter_mlplat.deploy.models import DeployRequest

    def step(call: Any, *args: Any) -> Any:
        started = time.monotonic()
        call(*args)
        deployment = service.wait(NAME, 600)
        if deployment.state != "ready" or deployment.reverted:
            raise RuntimeError(f"{call.__name__}: {deployment.state} {deployment.message}")
        return deployment, time.monotonic() - started

    first, ready_seconds = step(service.deploy, DeployRequest(f"models:/{NAME}/1", name=NAME))
    load = Load(first.endpoint, NAME, json.dumps(body).encode(), concurrency)
    load.start()
    urls, seconds = [first.endpoint], {"deploy": ready_seconds}
    try:
        time.sleep(1)
        request = DeployRequest(f"models:/{NAME}/2", name=NAME, canary=canary)
        deployment, seconds["canary"] = step(service.deploy, request)
        urls.append(deployment.endpoint)
        canary_from = time.monotonic()
        load.wait_for(canary_from, requests)
        canary_to = time.monotonic()
        deployment, seconds["promote"] = step(service.promote, NAME)
        urls.append(deployment.endpoint)
        promoted = time.monotonic()
        time.sleep(2)
        after_promote = load.between(promoted, time.monotonic())
        deployment, seconds["rollback"] = step(service.rollback, NAME)
        urls.append(deployment.endpoint)
        rolled_back = time.monotonic()
        time.sleep(2)
        after_rollback = load.between(rolled_back, time.monotonic())
    finally:
        load.stop()
    split = load.between(canary_from, canary_to)
    total = sum(split.values())
    return {
        "requests": len(load.answers) + len(load.failures),
        "failed": len(load.failures),
        "failures": load.failures[:5],
        "canary_window": total,
        "canary_share": split["2"] / total if total else 0.0,
        "after_promote": dict(after_promote),
        "after_rollback": dict(after_rollback),
        "urls": urls,
        "seconds": seconds,
        "rate": len(load.answers) / max(1e-9, load.answers[-1][0] - load.answers[0][0]),
    }


def service_for(state: Path, models: Path) -> Any:
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.deploy.models import ModelRef
    from jupyter_mlplat.deploy.service import DeployService

    env_dir = os.environ.get("MLP_SERVING_ENV_DIR") or str(ROOT / ".cache" / "serving-env")
    config = MLPlat(env={"MLP_STATE_DIR": str(state), "MLP_SERVING_ENV_DIR": env_dir})

    def resolver(_: MLPlat, uri: str) -> ModelRef:
        version = uri.rsplit("/", 1)[1]
        return ModelRef(uri, NAME, version, uri, (models / version).as_uri())

    return DeployService(config, resolver=resolver)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5000, help="requests while the canary serves")
    parser.add_argument("--canary", type=int, default=10, help="the canary's percent")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="mlplat-bench-gateway-"))
    body = save_models(work / "models")
    service = service_for(work / "state", work / "models")
    try:
        result = run(service, body, args.n, args.canary, args.concurrency)
    finally:
        for deployment in service.records():
            service.delete(deployment.name)
        shutil.rmtree(work, ignore_errors=True)
    share = result["canary_share"] * 100
    print(
        f"{result['requests']} requests at concurrency {args.concurrency} "
        f"({result['rate']:.0f} req/s), failed: {result['failed']} {result['failures']}"
    )
    print(
        f"canary {args.canary} %: measured {share:.2f} % of {result['canary_window']} requests "
        f"(goal {args.canary} ± 2 %)"
    )
    print(f"after promote: {result['after_promote']}; after rollback: {result['after_rollback']}")
    print(f"URLs: {sorted(set(result['urls']))} (goal: one)")
    print("seconds to ready: " + ", ".join(f"{k} {v:.1f}" for k, v in result["seconds"].items()))
    ok = (
        result["failed"] == 0
        and abs(share - args.canary) <= 2
        and len(set(result["urls"])) == 1
        and result["canary_window"] >= args.n
    )
    print("goals met" if ok else "GOALS MISSED")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
