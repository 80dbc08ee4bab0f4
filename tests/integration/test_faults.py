"""Faults on a platform of its own (`mlplat up --no-spark`): a service dies under a user's work
and the work is either kept or the user is told — never lost in silence."""

from __future__ import annotations

import json
import os
import signal
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlplat.infra.processes import pid_alive
from tests.conftest import RunningPlatform, start_platform, stop_platform

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    base = tmp_path_factory.mktemp("faults")
    running = start_platform(base, base / "state", "--no-spark")
    yield running
    stop_platform(running)


@pytest.fixture(scope="module")
def kernel(platform):
    lab = platform.lab
    with lab.kernel(lab.start_session("faults.ipynb")) as connection:
        yield connection


def run_ok(kernel, code: str, timeout: float = 300):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error)
    return result


def mlflow_pid(platform: RunningPlatform) -> int:
    return json.loads((platform.state_dir / "platform.json").read_text())["pids"]["mlflow"]


def wait_healthy(url: str, timeout: float = 180) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2):
                return
        except OSError:
            assert time.monotonic() < deadline, f"{url} did not come back"
            time.sleep(0.5)


def test_mlflow_killed_during_an_async_logged_run_loses_no_metric(platform, kernel):
    """The kernel logs asynchronously (the platform's default); MLflow is killed halfway and the
    supervisor restarts it on the same URL. Every value is on the server after the run ends."""
    run_ok(
        kernel,
        "import mlflow\n"
        "run = mlflow.start_run(run_name='through-a-crash')\n"
        "for i in range(300):\n"
        "    mlflow.log_metric('loss', 1 / (i + 1), step=i)\n"
        "mlflow.flush_async_logging()",
    )
    before = mlflow_pid(platform)
    os.killpg(before, signal.SIGKILL)
    # the user goes on logging while the server is down and while it comes back
    run_ok(
        kernel,
        "for i in range(300, 600):\n"
        "    mlflow.log_metric('loss', 1 / (i + 1), step=i)\n"
        "mlflow.end_run()\n"
        "print(run.info.run_id)",
        timeout=600,
    )
    assert mlflow_pid(platform) != before
    wait_healthy(platform.tracking_uri)
    from mlflow import MlflowClient

    run_id = run_ok(kernel, "print(run.info.run_id)").stdout.strip()
    history = MlflowClient(platform.tracking_uri).get_metric_history(run_id, "loss")
    assert sorted(m.step for m in history) == list(range(600))
    status = MlflowClient(platform.tracking_uri).get_run(run_id).info.status
    assert status == "FINISHED"


MODEL = "faults-iris"


@pytest.fixture(scope="module")
def two_versions(platform) -> dict:
    """Versions 1 and 2 of a registered model (logged from here, through the platform's MLflow),
    and a V2 request body."""
    import mlflow
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    X, y = load_iris(return_X_y=True, as_frame=True)
    X = X.rename(columns=lambda c: c.replace(" (cm)", "").replace(" ", "_"))
    # set_tracking_uri also sets MLFLOW_TRACKING_URI for child processes: put both back, or
    # later tests' subprocesses would talk to this module's platform after it stopped
    previous = mlflow.get_tracking_uri(), os.environ.get("MLFLOW_TRACKING_URI")
    mlflow.set_tracking_uri(platform.tracking_uri)
    try:
        for C in (1.0, 0.01):
            with mlflow.start_run():
                mlflow.sklearn.log_model(
                    LogisticRegression(C=C, max_iter=500).fit(X, y),
                    name="model",
                    input_example=X.head(3),
                    registered_model_name=MODEL,
                )
    finally:
        mlflow.set_tracking_uri(previous[0])
        if previous[1] is None:
            os.environ.pop("MLFLOW_TRACKING_URI", None)
        else:
            os.environ["MLFLOW_TRACKING_URI"] = previous[1]
    rows = X.head(5)
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": c, "shape": [len(rows)], "datatype": "FP64", "data": rows[c].tolist()}
            for c in rows.columns
        ],
    }


def deployment(platform, timeout: float = 300, done=lambda d: d["state"] != "deploying") -> dict:
    """Poll the deployment's record through the REST API (also while the lab restarts)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            response = platform.lab.api("GET", f"mlplat/api/deployments/{MODEL}")
            if response.status_code == 200 and done(response.json()):
                return dict(response.json())
        except OSError:
            pass  # the Jupyter server is down
        assert time.monotonic() < deadline, f"{MODEL} not as expected after {timeout} s"
        time.sleep(0.2)


class ClientLoop:
    """A client calling the deployment at the gateway without pause, in a thread."""

    def __init__(self, url: str, body: dict) -> None:
        import threading

        self.url, self.body = url, body
        self.answers: dict[str, int] = {}
        self.failures: list[str] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._thread.start()

    def _run(self) -> None:
        import requests

        session = requests.Session()
        while not self._stop.is_set():
            try:
                reply = session.post(self.url, json=self.body, timeout=30)
            except requests.RequestException as err:
                self.failures.append(repr(err))
                continue
            if reply.status_code != 200:
                self.failures.append(f"{reply.status_code} {reply.text[:200]}")
                continue
            version = str(reply.json().get("model_version"))
            self.answers[version] = self.answers.get(version, 0) + 1

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(60)


def server_dirs(platform) -> dict[int, Path]:
    base = platform.state_dir / "deployments" / MODEL
    return {int(d.name.removeprefix("server-")): d for d in base.glob("server-*")}


def test_jupyter_killed_mid_rollout_the_gateway_serves_and_the_rollout_is_reverted(
    platform, two_versions
):
    """A canary of version 2 is starting when the Jupyter server is SIGKILLed; the supervisor
    starts it again. The gateway serves version 1 throughout; the restored record says the
    rollout was interrupted and reverted; version 2's server is stopped and routed nowhere;
    the same canary asked for again completes."""
    from jupyter_mlplat.deploy.gateway import Gateway

    lab = platform.lab
    started = lab.api("POST", "mlplat/api/deployments", json={"model_uri": f"models:/{MODEL}/1"})
    assert started.status_code == 202, started.text
    stable = deployment(platform)
    assert stable["state"] == "ready", stable["message"]
    (v1,) = stable["details"]["servers"]
    loop = ClientLoop(f"{stable['endpoint']}/v2/models/{MODEL}/infer", two_versions)
    try:
        body = {"model_uri": f"models:/{MODEL}/2", "name": MODEL, "canary": 50}
        assert lab.api("POST", "mlplat/api/deployments", json=body).status_code == 202
        deadline = time.monotonic() + 300
        while True:  # version 2's server is launched and not ready yet
            record = lab.api("GET", f"mlplat/api/deployments/{MODEL}").json()
            step = record["details"].get("progress", {}).get("step", "")
            others = [d for port, d in server_dirs(platform).items() if port != v1["port"]]
            if step.startswith("waiting for the model server") and others:
                break
            assert record["state"] == "deploying" and time.monotonic() < deadline, record
            time.sleep(0.05)
        (v2_dir,) = others
        v2_pid = int((v2_dir / "mlserver.pid").read_text())
        lab_pid = json.loads((platform.state_dir / "platform.json").read_text())["pids"][
            "jupyterlab"
        ]
        os.killpg(lab_pid, signal.SIGKILL)
        killed = time.monotonic()

        restored = deployment(platform, done=lambda d: d["state"] != "deploying")
        print(f"restored {time.monotonic() - killed:.1f} s after the kill: {restored['message']}")
        new_pid = json.loads((platform.state_dir / "platform.json").read_text())["pids"]
        assert new_pid["jupyterlab"] != lab_pid
        assert restored["state"] == "ready" and restored["reverted"] is True, restored
        assert "interrupted by a restart of the Jupyter server" in restored["message"]
        assert "canary rollout of version 2" in restored["message"]
        assert restored["stable"]["version"] == "1" and restored["canary"] is None
        assert restored["endpoint"] == stable["endpoint"]
        assert [(s["version"], s["port"], s["pid"]) for s in restored["details"]["servers"]] == [
            ("1", v1["port"], v1["pid"])
        ]
        # nothing half-applied: version 2's server stopped and gone, the gateway routes to
        # exactly the recorded server, which is up
        deadline = time.monotonic() + 30
        while pid_alive(v2_pid):
            assert time.monotonic() < deadline, f"version 2's server {v2_pid} still runs"
            time.sleep(0.2)
        assert set(server_dirs(platform)) == {v1["port"]}
        gateway = Gateway(platform.state_dir)
        routes = gateway.routes()[MODEL]
        assert [(r.port, r.weight) for r in routes] == [(v1["port"], 100)]
        stats = gateway.stats(MODEL)
        assert {name: row["status"] for name, row in stats.items()} == {routes[0].server: "UP"}

        # the user asks again: this time the canary completes
        assert lab.api("POST", "mlplat/api/deployments", json=body).status_code == 202
        canary = deployment(platform)
        assert canary["state"] == "ready" and not canary["reverted"], canary["message"]
        assert [(s["version"], s["weight"]) for s in canary["details"]["servers"]] == [
            ("1", 50),
            ("2", 50),
        ]
        time.sleep(2)  # both versions answer through the gateway
    finally:
        loop.stop()
    print(f"client loop answers by version: {loop.answers}, failures: {len(loop.failures)}")
    assert loop.failures == []
    assert loop.answers.get("1", 0) > 50 and loop.answers.get("2", 0) > 0, loop.answers
    assert lab.api("DELETE", f"mlplat/api/deployments/{MODEL}").status_code in (200, 204)
