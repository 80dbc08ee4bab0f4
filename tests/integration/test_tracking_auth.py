"""Per-user tracking permissions on a real MLflow server running its auth app, started by the
platform's own code (as ``mlplat hub`` does), with two users made the way the hub makes them
at spawn: ada owns what she creates; bob reads it and is refused (403) every change."""

from __future__ import annotations

import base64
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.platform.local import LocalPlatform
from jupyter_mlplat.tracking.auth import (
    CREDENTIAL_SECRET,
    AdminCredential,
    credential_environment,
    ensure_user,
)
from jupyter_mlplat.tracking.teams import sync_teams, team_role
from tests.integration.test_spawner_kubelite import (
    can,
    eventually,
    forbidden,
    spawn_as_hub,
    user,
    with_platform_rbac,
)
from tests.unit.test_spawner_config import (
    dummy_kubeconfig,  # noqa: F401 (autouse: no cluster)
    hub_config,
)

pytestmark = pytest.mark.integration


@dataclass
class AuthServer:
    uri: str
    admin: AdminCredential
    admin_dir: Path
    passwords: dict[str, str]

    @contextmanager
    def as_user(self, user: str) -> Iterator[object]:
        """An MLflow client acting as ``user`` (MLflow reads the credential from the env)."""
        from mlflow import MlflowClient

        with pytest.MonkeyPatch.context() as patch:
            for key, value in credential_environment(user, self.passwords[user]).items():
                patch.setenv(key, value)
            yield MlflowClient(self.uri, self.uri)


@pytest.fixture(scope="module")
def server(tmp_path_factory) -> Iterator[AuthServer]:
    base = tmp_path_factory.mktemp("tracking-auth")
    config = MLPlat(env={}, state_dir=str(base / "state"), tracking_auth=True)
    platform = LocalPlatform(config, notebook_dir=base, spark=False, lab=False)
    platform.start(timeout=180)
    try:
        admin_dir = config.resolved_tracking_admin_dir
        admin = AdminCredential.load(admin_dir)
        users = ("ada", "bob", "cy")
        passwords = {u: ensure_user(platform.tracking_uri, admin, u) for u in users}
        yield AuthServer(platform.tracking_uri, admin, admin_dir, passwords)
    finally:
        platform.stop()


@dataclass
class Owned:
    experiment_id: str
    run_id: str
    model: str
    version: str


@pytest.fixture
def adas(server) -> Owned:
    """An experiment, a run with a metric, a registered model with a version and an alias."""
    return create_owned(server)


def create_owned(server: AuthServer) -> Owned:
    name = f"churn-{uuid.uuid4().hex[:6]}"
    with server.as_user("ada") as ada:
        experiment_id = ada.create_experiment(f"/Users/ada/{name}")
        run = ada.create_run(experiment_id)
        ada.log_metric(run.info.run_id, "auc", 0.9)
        ada.create_registered_model(name)
        version = ada.create_model_version(name, f"runs:/{run.info.run_id}/model", run.info.run_id)
        ada.set_registered_model_alias(name, "production", version.version)
    return Owned(experiment_id, run.info.run_id, name, str(version.version))


def denied(action) -> str:
    from mlflow.exceptions import MlflowException

    with pytest.raises(MlflowException) as caught:
        action()
    return str(caught.value.error_code)


def test_another_user_reads_but_cannot_edit_delete_or_move_an_alias(server, adas):
    with server.as_user("bob") as bob:
        # everyone may read
        assert bob.get_experiment(adas.experiment_id).name.startswith("/Users/ada/")
        assert bob.get_run(adas.run_id).data.metrics == {"auc": 0.9}
        assert [r.info.run_id for r in bob.search_runs([adas.experiment_id])] == [adas.run_id]
        assert bob.get_registered_model(adas.model).aliases == {"production": adas.version}
        assert bob.get_model_version_by_alias(adas.model, "production").version == adas.version
        # only the owner may change
        refused = {
            "log_metric": denied(lambda: bob.log_metric(adas.run_id, "auc", 0.1)),
            "set_tag": denied(lambda: bob.set_tag(adas.run_id, "verdict", "bad")),
            "delete_run": denied(lambda: bob.delete_run(adas.run_id)),
            "delete_model": denied(lambda: bob.delete_registered_model(adas.model)),
            "set_alias": denied(
                lambda: bob.set_registered_model_alias(adas.model, "production", adas.version)
            ),
            "delete_alias": denied(
                lambda: bob.delete_registered_model_alias(adas.model, "production")
            ),
        }
        assert set(refused.values()) == {"PERMISSION_DENIED"}, refused
        # bob owns what he creates
        assert bob.create_experiment(f"/Users/bob/{uuid.uuid4().hex[:6]}")
    with server.as_user("ada") as ada:  # nothing of bob's attempts landed
        run = ada.get_run(adas.run_id)
        assert run.data.metrics == {"auc": 0.9} and "verdict" not in run.data.tags
        assert ada.get_registered_model(adas.model).aliases == {"production": adas.version}


def test_the_owner_edits_moves_her_alias_and_deletes_her_model(server, adas):
    with server.as_user("ada") as ada:
        ada.log_metric(adas.run_id, "auc", 0.95)
        ada.set_tag(adas.run_id, "verdict", "good")
        version = ada.create_model_version(adas.model, f"runs:/{adas.run_id}/model", adas.run_id)
        ada.set_registered_model_alias(adas.model, "production", version.version)
        assert ada.get_model_version_by_alias(adas.model, "production").version == version.version
        ada.delete_registered_model(adas.model)
        assert ada.get_run(adas.run_id).data.tags["verdict"] == "good"
        assert not ada.search_registered_models(f"name = '{adas.model}'")


def test_a_team_role_lets_a_colleague_edit(server, adas):
    """MLflow 3.17's roles (RBAC) as the team group: EDIT on ada's experiment for bob."""
    admin = {"Authorization": server.admin.authorization()}
    api = f"{server.uri}/api/3.0/mlflow"
    role = requests.post(
        f"{api}/roles/create",
        json={"workspace": "default", "name": f"team-{uuid.uuid4().hex[:6]}"},
        headers=admin,
        timeout=30,
    )
    role.raise_for_status()
    role_id = role.json()["role"]["id"]
    grant = {"role_id": role_id, "resource_type": "experiment", "permission": "EDIT"}
    grant["resource_pattern"] = adas.experiment_id
    for path, body in (("roles/permissions/add", grant), ("roles/assign", {"username": "bob"})):
        answer = requests.post(
            f"{api}/{path}", json={"role_id": role_id, **body}, headers=admin, timeout=30
        )
        assert answer.status_code == 200, answer.text
    with server.as_user("bob") as bob:
        bob.log_metric(adas.run_id, "reviewed", 1.0)
        assert denied(lambda: bob.delete_registered_model(adas.model)) == "PERMISSION_DENIED"


def test_team_members_edit_what_each_of_them_creates_others_only_read(server):
    """ada and cy in the hub group "vision", bob outside (as the hub syncs them at spawn): the
    mlplat-auth server grants the team EDIT on what ada creates; grants follow a rename, go
    with a deleted model, and follow membership both ways."""
    for member, groups in (("ada", ["vision"]), ("cy", ["vision"]), ("bob", [])):
        assert sync_teams(server.uri, server.admin, member, groups) == [
            team_role(g) for g in groups
        ]
    try:
        adas = create_owned(server)
        with server.as_user("cy") as cy:
            cy.log_metric(adas.run_id, "reviewed", 1.0)
            cy.set_tag(adas.run_id, "verdict", "good")
            version = cy.create_model_version(adas.model, f"runs:/{adas.run_id}/m", adas.run_id)
            cy.set_registered_model_alias(adas.model, "production", version.version)
            # EDIT, not MANAGE: deleting stays the owner's (tracking_team_permission)
            assert denied(lambda: cy.delete_registered_model(adas.model)) == "PERMISSION_DENIED"
            assert denied(lambda: cy.delete_run(adas.run_id)) == "PERMISSION_DENIED"
        with server.as_user("bob") as bob:
            assert bob.get_run(adas.run_id).data.tags["verdict"] == "good"
            assert bob.get_model_version_by_alias(adas.model, "production").version == "2"
            refused = {
                "log_metric": denied(lambda: bob.log_metric(adas.run_id, "auc", 0.1)),
                "set_alias": denied(
                    lambda: bob.set_registered_model_alias(adas.model, "production", "1")
                ),
            }
            assert set(refused.values()) == {"PERMISSION_DENIED"}, refused
        renamed = f"{adas.model}-renamed"
        with server.as_user("ada") as ada:
            ada.rename_registered_model(adas.model, renamed)
        with server.as_user("cy") as cy:  # the team's grant followed the rename
            cy.set_registered_model_alias(renamed, "production", "1")
        with server.as_user("ada") as ada:
            ada.delete_registered_model(renamed)
        with server.as_user("bob") as bob:  # bob's model of the same name is not the team's
            bob.create_registered_model(renamed)
        with server.as_user("cy") as cy:
            assert (
                denied(lambda: cy.update_registered_model(renamed, "cy's note"))
                == "PERMISSION_DENIED"
            )
        # bob joins: the team's grants are his at once; cy leaves: hers are gone
        sync_teams(server.uri, server.admin, "bob", ["vision"])
        sync_teams(server.uri, server.admin, "cy", [])
        with server.as_user("bob") as bob:
            bob.log_metric(adas.run_id, "reviewed", 2.0)
        with server.as_user("cy") as cy:
            assert denied(lambda: cy.log_metric(adas.run_id, "x", 1.0)) == "PERMISSION_DENIED"
    finally:
        for member in ("ada", "bob", "cy"):
            sync_teams(server.uri, server.admin, member, [])


def test_credentials_are_checked_and_scoped(server):
    health = requests.get(f"{server.uri}/health", timeout=30)
    assert health.status_code == 200  # probes need no credential
    search = f"{server.uri}/api/2.0/mlflow/experiments/search?max_results=5"
    assert requests.get(search, timeout=30).status_code == 401
    assert (
        requests.get(search, auth=("bob", server.passwords["ada"]), timeout=30).status_code == 401
    )
    assert (
        requests.get(search, auth=("bob", server.passwords["bob"]), timeout=30).status_code == 200
    )
    # a user's password gives no admin rights: bob cannot make users nor read the user list
    create = f"{server.uri}/api/2.0/mlflow/users/create"
    answer = requests.post(
        create,
        json={"username": "eve", "password": "x" * 12},
        auth=("bob", server.passwords["bob"]),
        timeout=30,
    )
    assert answer.status_code == 403
    # the spawn of a user who exists already keeps the same password; the admin's name is no user's
    assert ensure_user(server.uri, server.admin, "bob") == server.passwords["bob"]
    # a password changed meanwhile (an admin rotation) is set back to the derived one at spawn
    changed = {"username": "bob", "password": "changed-elsewhere-1"}
    update = f"{server.uri}/api/2.0/mlflow/users/update-password"
    admin = {"Authorization": server.admin.authorization()}
    assert requests.patch(update, json=changed, headers=admin, timeout=30).status_code == 200
    assert (
        requests.get(search, auth=("bob", server.passwords["bob"]), timeout=30).status_code == 401
    )
    assert ensure_user(server.uri, server.admin, "bob") == server.passwords["bob"]
    assert (
        requests.get(search, auth=("bob", server.passwords["bob"]), timeout=30).status_code == 200
    )
    with pytest.raises(InvalidInput):
        ensure_user(server.uri, server.admin, server.admin.username)
    # the admin credential is a private folder of private files
    assert server.admin_dir.stat().st_mode & 0o777 == 0o700
    assert {(p.name, p.stat().st_mode & 0o777) for p in server.admin_dir.iterdir()} == {
        ("username", 0o600),
        ("password", 0o600),
    }


def test_kubernetes_pods_get_the_users_credential_from_its_own_secret(server, kubelite):
    """The hub (spawner_config's pre-spawn hook, as the hub's service account on kubelite with
    RBAC) against the real auth server: the user's credential goes in a Secret of the user's
    namespace; the notebook pod, the tuning Job's pods and the pipeline task pods reference it
    (secretKeyRef), no spec holds its value; the user's notebook account reads that Secret and
    no other user's."""
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.pipelines.cluster import task_pod_override
    from jupyter_mlplat.tuning import kubernetes as tuning_kube

    rbac_cluster = with_platform_rbac(kubelite)
    c = hub_config(
        tracking_auth=True, tracking_uri=server.uri, tracking_admin_dir=str(server.admin_dir)
    )
    name, other = user("dee"), user("eli")
    namespace, pod = spawn_as_hub(rbac_cluster, name, c)
    elsewhere, _ = spawn_as_hub(rbac_cluster, other, c)
    password = server.admin.user_password(name)
    keys = {"MLFLOW_TRACKING_USERNAME": "username", "MLFLOW_TRACKING_PASSWORD": "password"}
    by_reference = {
        var: {"secretKeyRef": {"name": CREDENTIAL_SECRET, "key": key}} for var, key in keys.items()
    }

    def credential_env(container: dict) -> dict:
        return {e["name"]: e.get("valueFrom") for e in container["env"] if e["name"] in keys}

    # the notebook pod as stored: by reference, nothing of the values or the admin's
    assert credential_env(pod["spec"]["containers"][0]) == by_reference
    assert password not in str(pod) and server.admin.password not in str(pod)
    # the Secret (written by the hub, labelled with its user) holds the working credential
    secret = rbac_cluster.client.resources.get(api_version="v1", kind="Secret").get(
        name=CREDENTIAL_SECRET, namespace=namespace
    )
    data = {k: base64.b64decode(v).decode() for k, v in secret.data.items()}
    assert data == {"username": name, "password": password}
    assert secret.metadata.labels["app.kubernetes.io/managed-by"] == "jupyter-mlplat"
    server.passwords[name] = data["password"]
    with server.as_user(name) as client:
        assert client.create_experiment(f"/Users/{name}/{uuid.uuid4().hex[:6]}")

    # the user's notebook account reads its own Secret only; another user's is refused
    notebook = rbac_cluster.as_service_account(namespace, "mlplat-notebook")
    eventually(lambda: can(notebook, "get", "secrets", namespace=namespace, name=CREDENTIAL_SECRET))
    secrets = notebook.resources.get(api_version="v1", kind="Secret")
    assert secrets.get(name=CREDENTIAL_SECRET, namespace=namespace).data == secret.data
    forbidden(lambda: secrets.get(name=CREDENTIAL_SECRET, namespace=elsewhere))
    forbidden(lambda: secrets.get(namespace=namespace))  # no listing
    intruder = rbac_cluster.as_service_account(elsewhere, "mlplat-notebook")
    forbidden(
        lambda: intruder.resources.get(api_version="v1", kind="Secret").get(
            name=CREDENTIAL_SECRET, namespace=namespace
        )
    )
    spark = rbac_cluster.as_service_account(namespace, "spark")
    forbidden(
        lambda: spark.resources.get(api_version="v1", kind="Secret").get(
            name=CREDENTIAL_SECRET, namespace=namespace
        )
    )

    # tuning: the kernel (its credential in its environment) builds the Job; stored as built
    config = MLPlat(env={"MLP_NAMESPACE": namespace, "MLP_USER": name})
    with server.as_user(name):
        config_map, job = tuning_kube.manifests(
            config, name=f"tune-{name}", study_name="s", payload=b"o", workers=2,
            env={"MLFLOW_TRACKING_URI": server.uri},
        )  # fmt: skip
    created = tuning_kube.submit(config, config_map, job, rbac_cluster.api_client())
    (container,) = created["spec"]["template"]["spec"]["containers"]
    assert credential_env(container) == by_reference
    assert password not in str(created)

    # pipeline tasks: the executor's pod with the platform's override, as the API server keeps it
    override = task_pod_override(namespace, "pipeline-train", "/opt/airflow/dags")
    override["metadata"]["name"] = f"task-{name}"
    override["spec"]["containers"][0]["image"] = "notebook:1"
    task = rbac_cluster.client.resources.get(api_version="v1", kind="Pod").create(
        body=override, namespace=namespace
    )
    task_env = credential_env(task.to_dict()["spec"]["containers"][0])
    assert {k: v["secretKeyRef"] for k, v in task_env.items()} == {
        k: {**v["secretKeyRef"], "optional": True} for k, v in by_reference.items()
    }
