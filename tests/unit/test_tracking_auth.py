"""Per-user tracking credentials: derivation, the admin's files, what reaches kernels and pods."""

from __future__ import annotations

import base64

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import Unavailable
from jupyter_mlplat.hub.environment import is_storage_secret
from jupyter_mlplat.tracking.auth import (
    ADMIN_USERNAME,
    AdminCredential,
    credential_environment,
    user_authorization,
)


def test_user_passwords_are_stable_distinct_and_reveal_nothing_of_the_admins(tmp_path):
    admin = AdminCredential.create(tmp_path / "admin")
    assert admin.username == ADMIN_USERNAME != "admin"
    assert admin.user_password("ada") == admin.user_password("ada")
    assert admin.user_password("ada") != admin.user_password("bob")
    assert admin.password not in admin.user_password("ada")
    rotated = AdminCredential(admin.username, admin.password + "x")
    assert rotated.user_password("ada") != admin.user_password("ada")
    # created once: a second start keeps the credential
    assert AdminCredential.create(tmp_path / "admin") == admin
    assert (tmp_path / "admin").stat().st_mode & 0o777 == 0o700
    assert (tmp_path / "admin" / "password").stat().st_mode & 0o777 == 0o600


def test_a_missing_admin_credential_is_one_clear_error(tmp_path):
    with pytest.raises(Unavailable, match="no MLflow admin credential"):
        AdminCredential.load(tmp_path / "nowhere")


def test_the_users_own_credential_reaches_kernels_and_pods_but_no_other_password():
    from jupyter_mlplat.server.provisioner import kernel_environment

    config = MLPlat(env={}, tracking_uri="http://127.0.0.1:5000")
    base = {
        **credential_environment("ada", "ada-secret"),
        "MLFLOW_AUTH_ADMIN_PASSWORD": "admin-secret",
        "DB_PASSWORD": "p",
    }
    env = kernel_environment(config, base)
    assert env["MLFLOW_TRACKING_USERNAME"] == "ada"
    assert env["MLFLOW_TRACKING_PASSWORD"] == "ada-secret"
    assert "MLFLOW_AUTH_ADMIN_PASSWORD" not in env and "DB_PASSWORD" not in env
    assert not is_storage_secret("MLFLOW_TRACKING_PASSWORD")
    assert is_storage_secret("MLFLOW_AUTH_ADMIN_PASSWORD")


def test_the_proxy_authorization_is_the_users_own():
    assert user_authorization({}) == ""
    header = user_authorization(credential_environment("ada", "s3cret"))
    assert base64.b64decode(header.removeprefix("Basic ")) == b"ada:s3cret"


def test_the_admin_dir_never_reaches_a_users_server():
    from jupyter_mlplat.hub.environment import user_environment, user_settings

    settings = user_settings("ada", per_user={"tracking_admin_dir": "/etc/mlplat/mlflow-admin"})
    env = user_environment(settings)
    assert "MLP_TRACKING_ADMIN_DIR" not in env
    assert MLPlat(env={}).tracking_auth is False  # `mlplat up` stays zero-config


def test_mlplat_up_with_tracking_auth_gives_the_lab_its_users_credential_only(tmp_path):
    from jupyter_mlplat.platform.local import LocalPlatform

    config = MLPlat(env={}, state_dir=str(tmp_path), user="ada", tracking_auth=True)
    platform = LocalPlatform(config, notebook_dir=tmp_path, spark=False, pipelines=False)
    lab = platform.platform_env()  # the admin credential is made on first use
    admin = AdminCredential.load(config.resolved_tracking_admin_dir)
    assert lab["MLFLOW_TRACKING_USERNAME"] == "ada"
    assert lab["MLFLOW_TRACKING_PASSWORD"] == admin.user_password("ada")
    assert not [k for k, v in lab.items() if admin.password in v]
    mlflow = platform.mlflow_service()
    assert mlflow.command[-2:] == ["--app-name", "mlplat-auth"]  # basic-auth + team groups
    assert mlflow.env["MLP_TRACKING_TEAM_PERMISSION"] == "EDIT"
    assert mlflow.env["MLFLOW_AUTH_ADMIN_PASSWORD"] == admin.password
    # without it, nothing changes: no users, no credential
    plain = LocalPlatform(MLPlat(env={}, state_dir=str(tmp_path / "b")), notebook_dir=tmp_path)
    assert "MLFLOW_TRACKING_USERNAME" not in plain.platform_env()
    assert "--app-name" not in plain.mlflow_service().command


def test_mlp_status_names_the_kernels_mlflow_user(ipython_shell, monkeypatch):
    from jupyter_mlplat.kernel.magics import MLPMagics

    for key, value in credential_environment("ada", "s3cret").items():
        monkeypatch.setenv(key, value)
    ipython_shell.register_magics(MLPMagics(ipython_shell, config=MLPlat(env={"MLP_USER": "ada"})))
    text = repr(ipython_shell.run_line_magic("mlp", "status"))
    assert "MLflow user" in text and "s3cret" not in text
    assert "storage credentials in kernel" in text and "MLFLOW_TRACKING_PASSWORD" not in text


def test_the_team_permission_is_edit_or_manage(monkeypatch):
    from traitlets import TraitError

    from jupyter_mlplat.tracking import team_app

    assert team_app._team_permission() == "EDIT"  # upstream's EDIT: deleting stays the owner's
    monkeypatch.setenv("MLP_TRACKING_TEAM_PERMISSION", "MANAGE")
    assert team_app._team_permission() == "MANAGE"
    with pytest.raises(TraitError):
        MLPlat(env={}, tracking_team_permission="READ")
