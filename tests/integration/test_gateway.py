"""The local inference gateway on real parts: HAProxy, MLServer from the serving environment,
MLflow models. Canary weights under load, zero-downtime rollouts, a dead server taken out, one
vectorized predict per V2 request."""

from __future__ import annotations

import json
import os
import signal
import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import requests

from benchmarks.gateway_canary import NAME, run, save_models, service_for

pytestmark = pytest.mark.integration


@pytest.fixture
def models(tmp_path: Path) -> tuple[Path, dict]:
    return tmp_path / "models", save_models(tmp_path / "models")


@pytest.fixture
def service(tmp_path: Path, models):
    deploy = service_for(tmp_path / "state", models[0])
    yield deploy
    for deployment in deploy.records():
        deploy.delete(deployment.name)
    assert not deploy.records()


def test_canary_promote_rollback_under_load_drop_nothing(service, models):
    """The benchmark's scenario, smaller: 8 clients all along, canary 10 % → promote →
    rollback; the split is exact to ±2 % and the URL never moves."""
    result = run(service, models[1], requests=1500, canary=10, concurrency=8)
    print(json.dumps({k: v for k, v in result.items() if k != "failures"}))
    assert result["failed"] == 0, result["failures"]
    assert result["canary_window"] >= 1500
    assert abs(result["canary_share"] - 0.10) <= 0.02, result["canary_share"]
    assert set(result["after_promote"]) == {"2"}, result["after_promote"]
    assert set(result["after_rollback"]) == {"1"}, result["after_rollback"]
    assert len(set(result["urls"])) == 1, result["urls"]


def infer(url: str, body: dict) -> requests.Response:
    return requests.post(f"{url}/v2/models/{NAME}/infer", json=body, timeout=30)


def test_a_dead_server_is_taken_out_and_a_canary_rollback_only_moves_weights(service, models):
    from jupyter_mlplat.deploy.models import DeployRequest
    from jupyter_mlplat.infra.processes import pid_alive

    service.deploy(DeployRequest(f"models:/{NAME}/1", name=NAME))
    stable = service.wait(NAME, 600)
    assert stable.state == "ready", stable.message
    service.deploy(DeployRequest(f"models:/{NAME}/2", name=NAME, canary=50))
    both = service.wait(NAME, 600)
    assert both.state == "ready" and both.endpoint == stable.endpoint, both.message
    versions = Counter(infer(both.endpoint, models[1]).json()["model_version"] for _ in range(40))
    assert 14 <= versions["2"] <= 26, versions  # weighted round robin: half each

    canary = next(s for s in both.details["servers"] if s["version"] == "2")
    os.killpg(int(canary["pid"]), signal.SIGKILL)  # the canary's server dies
    deadline = time.monotonic() + 10
    while pid_alive(int(canary["pid"])):  # a request it took while dying would be reset (502)
        assert time.monotonic() < deadline, "the killed server did not exit"
        time.sleep(0.01)
    answers = [infer(both.endpoint, models[1]) for _ in range(40)]
    assert [r.status_code for r in answers] == [200] * 40  # retried on the live one
    assert {r.json()["model_version"] for r in answers} == {"1"}
    backend = service._backend("local")
    deadline = time.monotonic() + 10
    while backend.gateway.stats(NAME)[f"v2-{canary['port']}"]["status"] != "DOWN":
        assert time.monotonic() < deadline, "the health check did not take the server out"
        time.sleep(0.2)
    assert "version 2" in service.get(NAME).message

    started = time.monotonic()
    service.rollback(NAME)  # drop the (dead) canary: weights only, the stable server stays
    rolled = service.wait(NAME, 600)
    assert rolled.state == "ready" and rolled.canary is None, rolled.message
    assert [s["pid"] for s in rolled.details["servers"]] == [
        s["pid"] for s in stable.details["servers"]
    ]
    assert time.monotonic() - started < 30  # no server starts (the machine may be busy)
    assert infer(rolled.endpoint, models[1]).json()["model_version"] == "1"


ROWS_MODEL = """
import mlflow.pyfunc
import numpy as np
from mlflow.models import set_model


class Rows(mlflow.pyfunc.PythonModel):
    def predict(self, context, model_input, params=None):
        return np.full(len(model_input), len(model_input))


set_model(Rows())
"""


def test_a_request_of_100_rows_is_one_predict(tmp_path: Path):
    """The model answers, for every row, how many rows its ``predict`` call received."""
    import mlflow.pyfunc
    import pandas as pd

    from jupyter_mlplat.deploy.models import DeployRequest

    code = tmp_path / "rows.py"
    code.write_text(ROWS_MODEL)
    frame = pd.DataFrame({"x": [float(i) for i in range(100)]})
    mlflow.pyfunc.save_model(str(tmp_path / "models" / "1"), python_model=str(code),
                             input_example=frame.head(2))  # fmt: skip
    deploy = service_for(tmp_path / "state", tmp_path / "models")
    try:
        deploy.deploy(DeployRequest(f"models:/{NAME}/1", name=NAME))
        deployment = deploy.wait(NAME, 600)
        assert deployment.state == "ready", deployment.message
        body = {
            "parameters": {"content_type": "pd"},
            "inputs": [{"name": "x", "shape": [100], "datatype": "FP64", "data": frame.x.tolist()}],
        }
        reply = infer(deployment.endpoint, body)
        assert reply.status_code == 200, reply.text
        assert reply.json()["outputs"][0]["data"] == [100] * 100

        # concurrent requests may share a predict (batching, at most 8); a malformed one
        # among them fails alone, and a lone request is a predict of its own
        def one(value: float, column: str = "x") -> requests.Response:
            row = {"name": column, "shape": [1], "datatype": "FP64", "data": [value]}
            return infer(deployment.endpoint, {"parameters": {"content_type": "pd"},
                                               "inputs": [row]})  # fmt: skip

        with ThreadPoolExecutor(8) as pool:
            bad = pool.submit(one, 0.0, "y")
            good = list(pool.map(one, [float(i) for i in range(32)]))
        assert bad.result().status_code >= 400
        assert all(r.status_code == 200 for r in good), [r.text for r in good]
        assert all(1 <= r.json()["outputs"][0]["data"][0] <= 8 for r in good)
        assert one(1.0).json()["outputs"][0]["data"] == [1]
    finally:
        deploy.delete(NAME)


def test_mlflow_signature_check_is_skipped_only_where_it_changes_nothing(tmp_path: Path):
    """A scikit-learn model with a three-double signature: a request of exactly those
    columns and dtypes skips MLflow's check; reordered, integer, extra or missing columns
    go through it. Every answer is what MLflow's own ``predict`` gives for the same frame."""
    import mlflow.pyfunc
    import mlflow.sklearn
    import numpy as np
    import pandas as pd
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlplat.deploy.models import DeployRequest

    frame = pd.DataFrame(np.random.RandomState(0).rand(200, 3), columns=["a", "b", "c"])
    fitted = LogisticRegression().fit(frame, (frame.a + frame.b > frame.c).astype(int))
    model_dir = tmp_path / "models" / "1"
    mlflow.sklearn.save_model(fitted, str(model_dir), input_example=frame.head(2))
    pyfunc = mlflow.pyfunc.load_model(str(model_dir))
    deploy = service_for(tmp_path / "state", tmp_path / "models")

    def request(columns: dict[str, list]) -> requests.Response:
        inputs = [
            {"name": name, "shape": [len(values)], "data": values,
             "datatype": "INT64" if isinstance(values[0], int) else "FP64"}
            for name, values in columns.items()
        ]  # fmt: skip
        return infer(deployment.endpoint, {"parameters": {"content_type": "pd"}, "inputs": inputs})

    try:
        deploy.deploy(DeployRequest(f"models:/{NAME}/1", name=NAME))
        deployment = deploy.wait(NAME, 600)
        assert deployment.state == "ready", deployment.message
        assert "skip MLflow's signature check" in deploy.log(NAME, 200)["1"]
        rows = frame.sample(20, random_state=1)
        cases = {
            "the signature's columns": rows,
            "reordered": rows[["c", "a", "b"]],
            "an extra column": rows.assign(d=1.5),
        }
        for case, columns in cases.items():
            reply = request({name: columns[name].tolist() for name in columns.columns})
            assert reply.status_code == 200, (case, reply.text)
            expected = pyfunc.predict(columns).tolist()
            assert reply.json()["outputs"][0]["data"] == expected, case
        # scikit-learn would take these integers; MLflow's check refuses them: it ran
        integers = request({"a": [1, 0, 2], "b": [0, 1, 0], "c": [1, 1, 0]})
        assert integers.status_code == 400, integers.text
        assert "Can not safely convert int64 to float64" in integers.json()["error"]
        missing = request({name: rows[name].tolist() for name in ("a", "b")})
        assert missing.status_code == 400, missing.text  # MLflow's reason, in one line
        assert missing.json()["error"] == (
            "the input does not match the model's signature: Model is missing inputs ['c']."
        )
    finally:
        deploy.delete(NAME)
