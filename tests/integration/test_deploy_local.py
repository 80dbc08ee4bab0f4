"""End to end: train and register in a kernel, deploy locally through the REST API (the
button's call), infer over V2 at the gateway and through the Jupyter server, canary/rollback
from the magics, undeploy frees the port."""

from __future__ import annotations

import json
import re
import time

import pytest
import requests

from jupyter_mlplat.infra.processes import pid_alive, port_open

pytestmark = pytest.mark.integration

MODEL = "iris-e2e"
TRAIN = f"""
import mlflow, mlflow.sklearn, json
from mlflow import MlflowClient
from sklearn.datasets import load_iris
from sklearn.linear_model import LogisticRegression
mlflow.autolog(disable=True)
X, y = load_iris(return_X_y=True, as_frame=True)
X = X.rename(columns=lambda c: c.replace(' (cm)', '').replace(' ', '_'))
for C in (1.0, 0.01):
    model = LogisticRegression(C=C, max_iter=500).fit(X, y)
    with mlflow.start_run():
        info = mlflow.sklearn.log_model(model, name='model', input_example=X.head(3),
                                        registered_model_name='{MODEL}')
    predictions = model.predict(X).tolist() if C == 1.0 else predictions
MlflowClient().set_registered_model_alias('{MODEL}', 'champion', '1')
print(json.dumps({{'predictions': predictions, 'columns': list(X.columns),
                  'rows': X.values.tolist()}}))
"""


@pytest.fixture(scope="module")
def kernel(lab):
    kernel_id = lab.start_session("deploy.ipynb")
    with lab.kernel(kernel_id) as connection:
        yield connection


@pytest.fixture(scope="module")
def trained(kernel):
    result = kernel.execute(TRAIN, timeout=300)
    assert result.status == "ok", (result.stderr, result.error)
    return json.loads(result.stdout.strip().splitlines()[-1])


def v2_body(trained) -> dict:
    columns = list(zip(*trained["rows"], strict=True))
    return {
        "parameters": {"content_type": "pd"},
        "inputs": [
            {"name": name, "shape": [len(values)], "datatype": "FP64", "data": list(values)}
            for name, values in zip(trained["columns"], columns, strict=True)
        ],
    }


def wait_ready(lab, name: str, timeout: float = 300) -> tuple[dict, list[str]]:
    steps: list[str] = []
    deadline = time.monotonic() + timeout
    while True:
        deployment = lab.api("GET", f"mlplat/api/deployments/{name}").json()
        step = deployment["details"].get("progress", {}).get("step", "")
        if step and (not steps or steps[-1] != step):
            steps.append(step)
        if deployment["state"] != "deploying":
            return deployment, steps
        assert time.monotonic() < deadline, deployment
        time.sleep(0.25)


def run_ok(kernel, code: str, timeout: float = 300):
    result = kernel.execute(code, timeout=timeout)
    assert result.status == "ok", (result.stderr, result.error)
    return result


def test_deploy_from_the_rest_api_serves_the_kernels_predictions(lab, kernel, trained):
    started = time.monotonic()
    response = lab.api(
        "POST", "mlplat/api/deployments", json={"model_uri": f"models:/{MODEL}@champion"}
    )
    assert response.status_code == 202, response.text
    assert response.json()["state"] == "deploying" and response.json()["name"] == MODEL
    deployment, steps = wait_ready(lab, MODEL)
    ready_seconds = time.monotonic() - started
    assert deployment["state"] == "ready", deployment["message"]
    assert deployment["stable"]["version"] == "1" and deployment["owner"] == "ada"
    assert any("ready" in s for s in steps), steps
    print(f"deploy -> ready: {ready_seconds:.1f} s, steps {steps}")

    reply = requests.post(
        f"{deployment['endpoint']}/v2/models/{MODEL}/infer", json=v2_body(trained), timeout=30
    )
    assert reply.status_code == 200, reply.text
    assert reply.json()["outputs"][0]["data"] == trained["predictions"]

    # the same URL through the Jupyter server (its base URL and authentication)
    proxied = lab.api("POST", f"mlplat/serving/v2/models/{MODEL}/infer", json=v2_body(trained))
    assert proxied.status_code == 200, proxied.text
    assert proxied.json()["outputs"][0]["data"] == trained["predictions"]
    anonymous = requests.post(
        f"{lab.url}/mlplat/serving/v2/models/{MODEL}/infer", json=v2_body(trained), timeout=30
    )
    assert anonymous.status_code == 403

    listed = lab.api("GET", "mlplat/api/deployments").json()["deployments"]
    assert [d["name"] for d in listed] == [MODEL]


def test_bad_requests_answer_one_line_and_change_nothing(lab, trained):
    cases = [
        ({"model_uri": f"models:/{MODEL}/2", "name": "fresh", "canary": 10}, 400),
        ({"model_uri": f"models:/{MODEL}/2", "canary": 150}, 400),
        ({"model_uri": "runs:/abc/model"}, 400),
        ({"model_uri": f"models:/{MODEL}/2", "colour": "red"}, 400),
        ({"model_uri": f"models:/{MODEL}@nope", "name": "other"}, 404),
        ({"model_uri": f"models:/{MODEL}/2", "name": MODEL, "target": "kserve"}, 409),
    ]
    for body, status in cases:
        response = lab.api("POST", "mlplat/api/deployments", json=body)
        assert response.status_code == status, (body, response.text)
        assert "\n" not in response.json()["message"]
    assert lab.api("POST", f"mlplat/api/deployments/{MODEL}/promote").status_code == 400
    assert lab.api("GET", "mlplat/api/deployments/fresh").status_code == 404
    assert [d["name"] for d in lab.api("GET", "mlplat/api/deployments").json()["deployments"]] == [
        MODEL
    ]


def test_canary_and_rollback_from_the_magics(lab, kernel, trained):
    result = run_ok(kernel, f"%mlp deploy models:/{MODEL}/2 --name {MODEL} --canary 10")
    html = "".join(result.data("text/html"))
    assert "mlplat-deploy-progress" in html and "/v2/models/" in html
    assert any(m["msg_type"] == "update_display_data" for m in result.messages)
    deployment = lab.api("GET", f"mlplat/api/deployments/{MODEL}").json()
    assert (deployment["stable"]["version"], deployment["canary"]["version"]) == ("1", "2")
    endpoint = deployment["endpoint"]
    assert [(s["version"], s["weight"]) for s in deployment["details"]["servers"]] == [
        ("1", 90),
        ("2", 10),
    ]
    canary_port = deployment["details"]["servers"][1]["port"]
    answers = [
        requests.post(f"{endpoint}/v2/models/{MODEL}/infer", json=v2_body(trained), timeout=30)
        for _ in range(50)
    ]
    assert [r.status_code for r in answers] == [200] * 50
    versions = [r.json()["model_version"] for r in answers]
    assert 4 <= versions.count("2") <= 6, versions  # weighted round robin: 10 %
    stable = next(r for r in answers if r.json()["model_version"] == "1")
    assert stable.json()["outputs"][0]["data"] == trained["predictions"]

    listing = run_ok(kernel, "%mlp deployments")
    assert MODEL in "".join(listing.data("text/html"))
    run_ok(kernel, f"%mlp rollback {MODEL}")
    deployment = lab.api("GET", f"mlplat/api/deployments/{MODEL}").json()
    assert deployment["canary"] is None and deployment["stable"]["version"] == "1"
    assert deployment["endpoint"] == endpoint  # the URL does not move
    assert not port_open("127.0.0.1", int(canary_port))  # the canary's server is gone

    failed = kernel.execute(f"%mlp promote {MODEL}")
    assert failed.status == "error"
    message = [line for line in failed.stderr.splitlines() if line.strip()]
    assert len(message) == 1 and message[0].startswith("UsageError: "), failed.stderr
    assert "no canary to promote" in message[0]
    assert run_ok(kernel, "1 + 1").value == "2"  # the kernel lives on


def test_kernel_token_opens_the_deploy_api_only(lab, kernel):
    result = run_ok(
        kernel,
        "import os, pathlib\n"
        "print(os.environ['MLP_API_URL'])\n"
        "print(pathlib.Path(os.environ['MLP_KERNEL_TOKEN_FILE']).read_text())\n"
        "print(any(os.environ.get(k, '') for k in ('JUPYTER_TOKEN', 'JPY_API_TOKEN')))",
    )
    url, token, leaked = result.stdout.strip().splitlines()[-3:]
    assert url.rstrip("/") == lab.url and leaked == "False"
    assert lab.token not in result.stdout
    headers = {"Authorization": f"mlplat {token}"}
    assert requests.get(f"{lab.url}/mlplat/api/deployments", headers=headers, timeout=30).ok
    for path in ("api/contents", "api/kernels", "api/sessions", "mlplat/api/status"):
        response = requests.get(f"{lab.url}/{path}", headers=headers, timeout=30)
        assert response.status_code == 403, (path, response.status_code)
    wrong = {"Authorization": "mlplat not-the-token"}
    assert (
        requests.get(f"{lab.url}/mlplat/api/deployments", headers=wrong, timeout=30).status_code
        == 403
    )


def test_cookie_sessions_still_need_xsrf(lab):
    browser = requests.Session()
    browser.get(f"{lab.url}/lab?token={lab.token}", timeout=30)  # sets the login cookie
    response = browser.post(
        f"{lab.url}/mlplat/api/deployments",
        json={"model_uri": f"models:/{MODEL}/2", "name": "xsrf"},
        timeout=30,
    )
    assert response.status_code == 403


def test_no_storage_location_or_server_path_reaches_clients(lab, kernel, platform):
    """Every answer a client or kernel reads about models and deployments: no artifact store,
    no local path of the server (the seed: clients see the server, not the storage)."""
    leaks = re.compile(
        r"file:/|s3a?://|gs://|wasbs?://|abfss?://|mlflow-artifacts:|"
        + re.escape(str(platform.state_dir.parent))
    )
    paths = [
        "mlplat/api/status",
        "mlplat/api/deployments",
        f"mlplat/api/deployments/{MODEL}",
        f"mlplat/api/deployments/{MODEL}/log",
        "mlplat/api/models",
        f"mlplat/api/models/{MODEL}",
        f"mlplat/api/models/{MODEL}/versions/1",
        f"mlplat/api/lineage/models/{MODEL}/versions/1",
        f"mlplat/api/search?q={MODEL}",
        "mlplat/api/reports",
    ]
    for path in paths:
        response = lab.api("GET", path)
        assert response.status_code == 200, (path, response.status_code)
        assert not leaks.search(response.text), (path, leaks.search(response.text))
    shown = run_ok(kernel, "%mlp deployments").stdout
    assert not leaks.search(shown)
    logs = lab.api("GET", f"mlplat/api/deployments/{MODEL}/log", params={"tail": 5}).json()
    assert logs["logs"] and all(len(t.splitlines()) <= 5 for t in logs["logs"].values())


def test_undeploy_frees_the_port(lab, kernel):
    deployment = lab.api("GET", f"mlplat/api/deployments/{MODEL}").json()
    port = int(deployment["details"]["servers"][0]["port"])
    assert port_open("127.0.0.1", port)
    run_ok(kernel, f"%mlp undeploy {MODEL}")
    assert not port_open("127.0.0.1", port)
    assert lab.api("GET", f"mlplat/api/deployments/{MODEL}").status_code == 404
    assert lab.api("DELETE", f"mlplat/api/deployments/{MODEL}").status_code == 404


def test_restore_keeps_a_live_server_and_restarts_a_stopped_one(tmp_path):
    """What a Jupyter server restart (and a platform restart) does with local deployments."""
    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.deploy.local import stop_model_servers
    from jupyter_mlplat.deploy.models import DeployRequest, ModelRef
    from jupyter_mlplat.deploy.service import DeployService
    from tests.conftest import ROOT

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = LogisticRegression(max_iter=500).fit(X, y)
    mlflow.sklearn.save_model(model, str(tmp_path / "model"), input_example=X.head(2))
    config = MLPlat(
        env={
            "MLP_USER": "ada",
            "MLP_STATE_DIR": str(tmp_path / "state"),
            "MLP_SERVING_ENV_DIR": str(ROOT / ".cache" / "serving-env"),
        }
    )

    def resolver(_: MLPlat, uri: str) -> ModelRef:
        return ModelRef(uri, "iris", "1", uri, (tmp_path / "model").as_uri())

    first = DeployService(config, resolver=resolver)
    first.deploy(DeployRequest("models:/iris/1", name="iris"))
    deployed = first.wait("iris", 600)
    assert deployed.state == "ready", deployed.message
    try:
        pid = deployed.details["servers"][0]["pid"]
        kept = DeployService(config).restore()  # the Jupyter server restarted
        assert [(d.state, d.details["servers"][0]["pid"]) for d in kept] == [("ready", pid)]
        assert kept[0].endpoint == deployed.endpoint

        assert stop_model_servers(config.resolved_state_dir) == 1  # `mlplat stop`
        assert not port_open("127.0.0.1", int(deployed.endpoint.rsplit(":", 1)[1]))
        restarted = DeployService(config).restore()  # the next `mlplat up`
        assert [d.state for d in restarted] == ["ready"], restarted[0].message
        assert restarted[0].details["servers"][0]["pid"] != pid
        assert restarted[0].endpoint == deployed.endpoint  # the gateway's port is kept
        body = {
            "parameters": {"content_type": "pd"},
            "inputs": [
                {"name": c, "shape": [len(X)], "datatype": "FP64", "data": X[c].tolist()}
                for c in X.columns
            ],
        }
        reply = requests.post(
            f"{restarted[0].endpoint}/v2/models/iris/infer", json=body, timeout=30
        )
        assert reply.json()["outputs"][0]["data"] == model.predict(X).tolist()
    finally:
        DeployService(config).delete("iris")
    assert not port_open("127.0.0.1", int(restarted[0].details["servers"][0]["port"]))


def test_restore_after_a_first_deploy_cut_short_leaves_nothing_running(tmp_path):
    """The process deploying a new name dies (SIGKILL) while its model server starts: the
    next restore marks the deployment failed and stops that orphaned server."""
    import os
    import signal
    import subprocess
    import sys

    import mlflow.sklearn
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.deploy.gateway import Gateway
    from jupyter_mlplat.deploy.service import DeployService
    from tests.conftest import ROOT

    X, y = load_iris(return_X_y=True, as_frame=True)
    model = tmp_path / "model"
    mlflow.sklearn.save_model(LogisticRegression(max_iter=500).fit(X, y), str(model))
    env = {
        "MLP_USER": "ada",
        "MLP_STATE_DIR": str(tmp_path / "state"),
        "MLP_SERVING_ENV_DIR": str(ROOT / ".cache" / "serving-env"),
    }
    deploying = subprocess.Popen(
        [sys.executable, "-c", (
            "import time\n"
            "from jupyter_mlplat.config import MLPlat\n"
            "from jupyter_mlplat.deploy.models import DeployRequest, ModelRef\n"
            "from jupyter_mlplat.deploy.service import DeployService\n"
            f"uri = {model.as_uri()!r}\n"
            "found = lambda _, u: ModelRef(u, 'iris', '1', u, uri)\n"
            "service = DeployService(MLPlat(), resolver=found)\n"
            "service.deploy(DeployRequest('models:/iris/1', name='iris'))\n"
            "time.sleep(600)\n"
        )],
        env=os.environ | env, cwd=ROOT,
    )  # fmt: skip
    folder = tmp_path / "state" / "deployments" / "iris"
    deadline = time.monotonic() + 300
    while not list(folder.glob("server-*/mlserver.pid")):
        assert deploying.poll() is None and time.monotonic() < deadline
        time.sleep(0.05)
    (pid_file,) = folder.glob("server-*/mlserver.pid")
    server_pid = int(pid_file.read_text())
    os.kill(deploying.pid, signal.SIGKILL)
    deploying.wait(30)

    (restored,) = DeployService(MLPlat(env=env)).restore()
    assert (restored.state, restored.endpoint) == ("failed", "")
    assert "interrupted by a restart of the Jupyter server" in restored.message
    assert not list(folder.glob("server-*"))
    assert not pid_alive(server_pid)
    assert "iris" not in Gateway(tmp_path / "state").routes()
