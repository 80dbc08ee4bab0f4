"""``mlplat hub`` with its own MLflow (auth app on): two hub users log in, each kernel logs to
MLflow as its user with a credential the hub made for it and never sees the admin's; bob's
kernel, his lab's MLflow proxy and his server's own MLflow calls read ada's run and model, and
every change of ada's is refused (403). cy shares the hub group "vision" with ada: her kernel
edits ada's run and moves ada's alias."""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from jupyter_mlplat.hub.client import login, wait_for_lab
from jupyter_mlplat.infra.processes import Service, free_port
from jupyter_mlplat.tracking.auth import AdminCredential
from jupyter_mlplat.tracking.ui import MLFLOW_UI_PATH
from tests.conftest import ROOT, isolated_env
from tests.support.jupyter import JupyterServer

pytestmark = pytest.mark.integration

PASSWORD = "hub-auth-test-password"


@dataclass
class Hub:
    url: str
    state_dir: Path

    @property
    def admin(self) -> AdminCredential:
        return AdminCredential.load(self.state_dir / "mlflow" / "admin")

    def lab(self, user: str) -> JupyterServer:
        """``user``'s JupyterLab through the hub, with a hub API token of that user."""
        session = login(self.url, user, PASSWORD)
        wait_for_lab(session, self.url, user)
        answer = session.post(
            f"{self.url}/hub/api/users/{user}/tokens",
            json={"note": "test", "expires_in": 3600},
            headers={"X-XSRFToken": session.cookies.get("_xsrf", path="/hub/") or ""},
            timeout=30,
        )
        answer.raise_for_status()
        return JupyterServer(f"{self.url}/user/{user}", answer.json()["token"])


@pytest.fixture(scope="module")
def hub(tmp_path_factory) -> Iterator[Hub]:
    base = tmp_path_factory.mktemp("hub-auth")
    port = free_port()
    env = isolated_env(base) | {"MLPLAT_HUB_PASSWORD": PASSWORD}
    env.pop("MLP_USER")  # the hub serves many users: each server gets its own
    command = [
        sys.executable, "-m", "jupyter_mlplat.platform.cli", "--state-dir", str(base / "state"),
        "hub", "--port", str(port), "--users", "ada,bob,cy", "--group", "vision=ada,cy",
        "--no-spark",
    ]  # fmt: skip
    service = Service(
        "mlplat-hub", command, f"http://127.0.0.1:{port}/hub/health", base / "hub.log", env, ROOT
    )
    service.start()
    try:
        service.wait_ready(240)
        yield Hub(f"http://127.0.0.1:{port}", base / "state")
    finally:
        service.stop(timeout=90)


def run_cell(lab: JupyterServer, code: str) -> dict:
    """Run ``code`` (it prints one JSON line last) in a new notebook kernel of ``lab``."""
    with lab.kernel(lab.start_session(f"{uuid.uuid4().hex[:6]}.ipynb")) as kernel:
        result = kernel.execute(code, timeout=180)
    assert result.status == "ok", (result.error, result.stderr)
    return dict(json.loads(result.stdout.strip().splitlines()[-1]))


ADA_CELL = """
import json, os, mlflow
with mlflow.start_run() as run:
    mlflow.log_metric("auc", 0.9)
client = mlflow.MlflowClient()
client.create_registered_model("{model}")
source = f"runs:/{{run.info.run_id}}/model"
version = client.create_model_version("{model}", source, run.info.run_id)
client.set_registered_model_alias("{model}", "production", version.version)
print(json.dumps({{"env": dict(os.environ), "run_id": run.info.run_id, "user": run.info.user_id,
                  "experiment_id": run.info.experiment_id}}))
"""

BOB_CELL = """
import json, os, mlflow
from mlflow.exceptions import MlflowException
client = mlflow.MlflowClient()
def attempt(action):
    try:
        action()
        return "done"
    except MlflowException as err:
        return err.error_code
print(json.dumps({{
    "env": dict(os.environ),
    "read": client.get_run("{run_id}").data.metrics,
    "alias": client.get_model_version_by_alias("{model}", "production").version,
    "log_metric": attempt(lambda: client.log_metric("{run_id}", "auc", 0.1, synchronous=True)),
    "set_tag": attempt(lambda: client.set_tag("{run_id}", "verdict", "bad", synchronous=True)),
    # the kernel logs asynchronously by default: the refusal surfaces when the batch is sent
    "async_log_metric": attempt(lambda: client.log_metric("{run_id}", "auc", 0.2).wait()),
    "delete_model": attempt(lambda: client.delete_registered_model("{model}")),
    "set_alias": attempt(lambda: client.set_registered_model_alias("{model}", "production", "1")),
}}))
"""


def assert_own_identity(env: dict[str, str], user: str, admin: AdminCredential) -> None:
    assert env["MLFLOW_TRACKING_USERNAME"] == user
    assert env["MLFLOW_TRACKING_PASSWORD"] == admin.user_password(user)
    assert not [k for k in env if k.startswith("MLFLOW_AUTH") or k == "MLP_TRACKING_ADMIN_DIR"]
    assert not [k for k, v in env.items() if admin.password in v], "admin password in a kernel"
    assert "MLFLOW_FLASK_SERVER_SECRET_KEY" not in env


def test_each_hub_user_tracks_as_themself_and_cannot_change_the_others(hub):
    admin = hub.admin
    model = f"churn-{uuid.uuid4().hex[:6]}"
    ada = run_cell(hub.lab("ada"), ADA_CELL.format(model=model))
    assert_own_identity(ada["env"], "ada", admin)
    assert ada["user"] == "ada"

    bob_lab = hub.lab("bob")
    bob = run_cell(bob_lab, BOB_CELL.format(model=model, run_id=ada["run_id"]))
    assert_own_identity(bob["env"], "bob", admin)
    assert bob["read"] == {"auc": 0.9} and bob["alias"] == "1"
    assert bob["async_log_metric"] != "done"
    assert {
        k: bob[k] for k in ("log_metric", "set_tag", "delete_model", "set_alias")
    } == dict.fromkeys(("log_metric", "set_tag", "delete_model", "set_alias"), "PERMISSION_DENIED")

    # bob's in-lab MLflow UI acts as bob: reads ada's run, may not change it
    proxy = f"{MLFLOW_UI_PATH}api/2.0/mlflow"
    me = bob_lab.api("GET", f"{proxy}/users/current")
    assert me.status_code == 200 and me.json()["user"]["username"] == "bob", me.text
    run = bob_lab.api("GET", f"{proxy}/runs/get", params={"run_id": ada["run_id"]})
    assert run.status_code == 200
    tag = {"run_id": ada["run_id"], "key": "verdict", "value": "bad"}
    assert bob_lab.api("POST", f"{proxy}/runs/set-tag", json=tag).status_code == 403
    # and the platform's own server-side MLflow calls run as bob (they read; anonymous is 401)
    found = bob_lab.api("GET", f"mlplat/api/models/{model}")
    assert found.status_code == 200, found.text
    assert found.json()["aliases"] == {"production": "1"}

    # nothing of bob's landed, and no anonymous client gets in
    tracking = json.loads((hub.state_dir / "platform.json").read_text())["tracking_uri"]
    get_run = f"{tracking}/api/2.0/mlflow/runs/get?run_id={ada['run_id']}"
    answer = requests.get(get_run, auth=("ada", admin.user_password("ada")), timeout=30)
    assert answer.json()["run"]["data"]["tags"] and "verdict" not in {
        t["key"] for t in answer.json()["run"]["data"]["tags"]
    }
    assert requests.get(get_run, timeout=30).status_code == 401


CY_CELL = """
import json, mlflow
client = mlflow.MlflowClient()
client.log_metric("{run_id}", "reviewed", 1.0, synchronous=True)
client.set_tag("{run_id}", "verdict", "good", synchronous=True)
version = client.create_model_version("{model}", "runs:/{run_id}/model", "{run_id}")
client.set_registered_model_alias("{model}", "production", version.version)
print(json.dumps({{"version": version.version}}))
"""


def test_a_team_group_member_edits_her_teammates_run_and_moves_the_alias(hub):
    model = f"vision-{uuid.uuid4().hex[:6]}"
    ada = run_cell(hub.lab("ada"), ADA_CELL.format(model=model))
    cy = run_cell(hub.lab("cy"), CY_CELL.format(model=model, run_id=ada["run_id"]))
    assert cy["version"] == "2"
    # bob, outside the group, reads what cy did and may change none of it
    bob = run_cell(hub.lab("bob"), BOB_CELL.format(model=model, run_id=ada["run_id"]))
    assert bob["read"] == {"auc": 0.9, "reviewed": 1.0} and bob["alias"] == "2"
    assert {bob[k] for k in ("log_metric", "set_tag", "delete_model", "set_alias")} == {
        "PERMISSION_DENIED"
    }
