"""Per-user tracking permissions on a real MLflow server running its auth app, started by the
platform's own code (as ``mlplat hub`` does), with two users made the way the hub makes them
at spawn: ada owns what she creates; bob reads it and is refused (403) every change."""

from __future__ import annotations

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
from jupyter_mlplat.tracking.auth import AdminCredential, credential_environment, ensure_user
from jupyter_mlplat.tracking.teams import sync_teams, team_role
from tests.unit.test_spawner_config import dummy_kubeconfig  # noqa: F401 (autouse: no cluster)

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
    for user, groups in (("ada", ["vision"]), ("cy", ["vision"]), ("bob", [])):
        assert sync_teams(server.uri, server.admin, user, groups) == [team_role(g) for g in groups]
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
        for user in ("ada", "bob", "cy"):
            sync_teams(server.uri, server.admin, user, [])


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


def test_the_kubernetes_spawner_gives_each_user_pod_its_own_credential(server):
    """spawner_config's pre-spawn step on a real KubeSpawner (its hub-less `_mock` mode) against
    the real auth server:
    the pod's environment holds its user's credential, which works, and nothing of the admin's."""
    import asyncio

    import mlplat_spawner

    from tests.unit.test_spawner_config import env_of, hub_config, spawn

    c = hub_config(
        tracking_auth=True, tracking_uri=server.uri, tracking_admin_dir=str(server.admin_dir)
    )
    spawner, _ = spawn(c, "cyd")

    async def pre_spawn_then_pod():
        await mlplat_spawner.tracking_identity(spawner)
        return mlplat_spawner.modify_pod_hook(spawner, await spawner.get_pod_manifest())

    env = env_of(asyncio.run(pre_spawn_then_pod()))
    assert env["MLFLOW_TRACKING_USERNAME"] == "cyd"
    assert not [k for k, v in env.items() if server.admin.password in (v or "")]
    assert "MLP_TRACKING_ADMIN_DIR" not in env
    server.passwords["cyd"] = env["MLFLOW_TRACKING_PASSWORD"]
    with server.as_user("cyd") as cyd:
        assert cyd.create_experiment(f"/Users/cyd/{uuid.uuid4().hex[:6]}")
