"""KServe through the REST API, as the Models panel's Deploy button calls it.

A real Jupyter server with the extension runs as the user's notebook service account (a bearer
token kubelite knows, RBAC enforced, the spawner's Roles in namespace ``mlplat-ada``), with
``MLP_KSERVE_MODE=auto`` — which, since that account may not read KServe's config, is KServe
0.20's own default, Standard. The registry is MLflow on SQLite with versions whose artifacts are
in (pretend) object storage; a thread plays the KServe controller as the admin.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests

from jupyter_mlplat.deploy.kserve import GROUP, PLURAL, VERSION
from jupyter_mlplat.infra.processes import free_port
from tests.conftest import isolated_env
from tests.integration.test_deploy_kserve import ready
from tests.support.jupyter import JupyterServer
from tests.support.user_namespace import NOTEBOOK, set_up_user_namespace

pytestmark = pytest.mark.integration

NAMESPACE = "mlplat-ada"  # a token account of tests/support/kubelite.py
MODEL = "iris-rest"


@pytest.fixture(scope="module")
def custom(kubelite) -> Any:
    """The admin's CustomObjectsApi, the user's namespace set up as the spawner does."""
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    kubelite.wait_for_crds("InferenceService")
    admin = kubelite.api_client()
    try:
        client.CoreV1Api(admin).create_namespace({"metadata": {"name": NAMESPACE}})
    except ApiException as err:
        assert err.status == 409
    set_up_user_namespace(kubelite, NAMESPACE)
    return client.CustomObjectsApi(admin)


@pytest.fixture(scope="module")
def tracking_uri(tmp_path_factory) -> str:
    """An MLflow registry (SQLite) with three versions of MODEL stored in s3://."""
    from mlflow import MlflowClient

    uri = f"sqlite:///{tmp_path_factory.mktemp('mlflow') / 'mlflow.db'}"
    registry = MlflowClient(uri)
    registry.create_registered_model(MODEL)
    for version in (1, 2, 3):
        source = f"s3://mlflow/artifacts/1/models/m-{version}/artifacts"
        registry.create_model_version(MODEL, source)
    return uri


class Controller(threading.Thread):
    """Plays KServe for every InferenceService of the namespace (except ``paused`` names)."""

    def __init__(self, custom: Any) -> None:
        super().__init__(daemon=True)
        self.custom = custom
        self.paused: set[str] = set()
        self.stopping = threading.Event()
        self.seen: dict[str, int] = {}

    def run(self) -> None:
        while not self.stopping.wait(0.05):
            found = self.custom.list_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL)
            for item in found["items"]:
                name, generation = item["metadata"]["name"], item["metadata"]["generation"]
                if name in self.paused or self.seen.get(name) == generation:
                    continue
                self.seen[name] = generation
                self.custom.patch_namespaced_custom_object_status(
                    GROUP, VERSION, NAMESPACE, PLURAL, name, {"status": ready(item)}
                )


@pytest.fixture(scope="module")
def controller(custom) -> Iterator[Controller]:
    running = Controller(custom)
    running.start()
    yield running
    running.stopping.set()
    running.join(10)


@pytest.fixture(scope="module")
def server(kubelite, custom, tracking_uri, controller, tmp_path_factory) -> Iterator[JupyterServer]:
    base = tmp_path_factory.mktemp("jupyter-kserve")
    port, token = free_port(), "kserve-rest-test"
    env = isolated_env(base) | {
        "KUBECONFIG": str(kubelite.kubeconfig_as(NAMESPACE, NOTEBOOK, base / "kubeconfig")),
        "MLP_NAMESPACE": NAMESPACE,
        "MLP_DEPLOY_TARGET": "kserve",
        "MLP_KSERVE_MODE": "auto",
        "MLP_TRACKING_URI": tracking_uri,
        "MLP_STATE_DIR": str(base / "state"),
        "MLP_SPARK_MODE": "none",
        "MLP_CATALOG_REFRESH_SECONDS": "0",
        "MLP_DEPLOY_READY_TIMEOUT": "60",
        "PYTHONPATH": os.pathsep.join(
            p for p in (str(Path.cwd()), os.environ.get("PYTHONPATH", "")) if p
        ),
    }
    env = {k: v for k, v in env.items() if not k.startswith("KUBERNETES_")}
    log = (base / "jupyter.log").open("wb")
    process = subprocess.Popen(
        [
            sys.executable, "-m", "jupyter_server", "--no-browser",
            "--ServerApp.ip=127.0.0.1", f"--ServerApp.port={port}", "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={base}", f"--IdentityProvider.token={token}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        env=env, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 120
    while True:
        try:
            if requests.get(f"{url}/api/status?token={token}", timeout=2).ok:
                break
        except requests.RequestException:
            pass
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            pytest.fail((base / "jupyter.log").read_text()[-3000:])
        time.sleep(0.2)
    try:
        yield JupyterServer(url, token)
    finally:
        process.terminate()
        try:
            process.wait(30)
        except subprocess.TimeoutExpired:
            process.kill()


def wait_done(server: JupyterServer, name: str, timeout: float = 120) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        deployment = server.api("GET", f"mlplat/api/deployments/{name}").json()
        if deployment["state"] != "deploying":
            return deployment
        assert time.monotonic() < deadline, deployment
        time.sleep(0.2)


def post(server: JupyterServer, path: str, **body: Any) -> requests.Response:
    return server.api("POST", f"mlplat/api/{path}", json=body or None)


def isvc(custom: Any, name: str) -> dict[str, Any]:
    return dict(custom.get_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, name))


def test_deploy_replace_and_rollback_through_the_rest_api(server, custom):
    answer = post(server, "deployments", model_uri=f"models:/{MODEL}/1", name="iris-a")
    assert answer.status_code == 202, answer.text
    deployment = wait_done(server, "iris-a")
    assert deployment["state"] == "ready", deployment["message"]
    assert deployment["target"] == "kserve" and deployment["owner"] == "ada"
    # the notebook's account cannot read KServe's config: KServe 0.20's default mode
    assert deployment["details"]["mode"] == "Standard"
    assert deployment["details"]["canary_routing"] == "none"
    assert deployment["endpoint"] == f"http://iris-a.{NAMESPACE}.example.com"
    first = isvc(custom, "iris-a")

    assert post(server, "deployments", model_uri=f"models:/{MODEL}/2", name="iris-a").ok
    replaced = wait_done(server, "iris-a")
    assert (replaced["state"], replaced["stable"]["version"]) == ("ready", "2")
    assert replaced["previous"]["version"] == "1"
    assert isvc(custom, "iris-a")["spec"]["predictor"]["model"]["storageUri"].endswith(
        "m-2/artifacts"
    )

    assert post(server, "deployments/iris-a/rollback").status_code == 202
    back = wait_done(server, "iris-a")
    assert (back["state"], back["stable"]["version"]) == ("ready", "1")
    found = isvc(custom, "iris-a")
    assert found["spec"]["predictor"]["model"]["storageUri"].endswith("m-1/artifacts")
    # KServe copies labels/annotations into the pod template (components/predictor.go
    # buildObjectMeta): the same on every rollout, so none restarts pods by itself; and the
    # predictor stays unnamed, so its Service/host (constants.go PredictorServiceName) stays
    assert found["metadata"]["labels"] == first["metadata"]["labels"]
    assert found["metadata"]["annotations"] == first["metadata"]["annotations"]
    assert "name" not in found["spec"]["predictor"]

    assert server.api("DELETE", "mlplat/api/deployments/iris-a").status_code == 204


def test_what_kserve_would_ignore_or_refuse_is_a_one_line_400(server, custom):
    assert post(server, "deployments", model_uri=f"models:/{MODEL}/1", name="iris-b").ok
    assert wait_done(server, "iris-b")["state"] == "ready"
    before = isvc(custom, "iris-b")["metadata"]["resourceVersion"]

    canary = post(server, "deployments", model_uri=f"models:/{MODEL}/2", name="iris-b", canary=20)
    assert canary.status_code == 400, canary.text
    assert canary.json()["message"].startswith("KServe's Standard mode sends no traffic")
    too_long = post(server, "deployments", model_uri=f"models:/{MODEL}/1", name="m" * 54)
    assert too_long.status_code == 400, too_long.text
    assert "too long for KServe" in too_long.json()["message"]
    for answer in (canary, too_long):
        assert "\n" not in answer.json()["message"]
    # nothing changed, nothing recorded
    assert isvc(custom, "iris-b")["metadata"]["resourceVersion"] == before
    assert wait_done(server, "iris-b")["stable"]["version"] == "1"
    assert server.api("GET", f"mlplat/api/deployments/{'m' * 54}").status_code in (400, 404)


def test_the_apis_own_409s(server, custom, controller):
    # create race: two clicks at once on a new name -> one rollout, one 409
    controller.paused.add("iris-c")  # keep the first rollout running
    answers: list[requests.Response] = []
    clicks = [
        threading.Thread(
            target=lambda: answers.append(
                post(server, "deployments", model_uri=f"models:/{MODEL}/1", name="iris-c")
            )
        )
        for _ in range(2)
    ]
    for click in clicks:
        click.start()
    for click in clicks:
        click.join(60)
    assert sorted(a.status_code for a in answers) == [202, 409], [a.text for a in answers]
    [conflict] = [a for a in answers if a.status_code == 409]
    assert (
        conflict.json()["message"]
        == "an operation on 'iris-c' is still running: try again when done"
    )

    # changing it while that rollout runs -> 409, and nothing else happens
    busy = post(server, "deployments/iris-c/rollback")
    assert busy.status_code == 409 and "still running" in busy.json()["message"]
    controller.paused.discard("iris-c")
    assert wait_done(server, "iris-c")["state"] == "ready"

    # an InferenceService of that name the platform does not manage -> 409 before any change
    foreign = {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": "InferenceService",
        "metadata": {"name": "iris-d", "labels": {"team": "other"}},
        "spec": {
            "predictor": {
                "model": {"modelFormat": {"name": "mlflow"}, "storageUri": "s3://other/model"}
            }
        },
    }
    custom.create_namespaced_custom_object(GROUP, VERSION, NAMESPACE, PLURAL, foreign)
    taken = post(server, "deployments", model_uri=f"models:/{MODEL}/1", name="iris-d")
    assert taken.status_code == 409, taken.text
    assert taken.json()["message"] == (
        f"an InferenceService named iris-d already exists in {NAMESPACE} and is not managed by "
        "jupyter-mlplat"
    )
    assert server.api("GET", "mlplat/api/deployments/iris-d").status_code == 404
    assert isvc(custom, "iris-d")["spec"] == foreign["spec"]
