"""Per-user identities on MLflow's own auth app (``mlflow server --app-name basic-auth``).

The platform gives every hub user an MLflow user of the same name. Its password is derived
from the server-side admin secret (HMAC-SHA256 of the user name), so nothing per user is stored:
the hub sets it on the tracking server at each spawn (create, else update-password) and hands
it to that user's server — and from there to its kernels — as ``MLFLOW_TRACKING_USERNAME`` /
``MLFLOW_TRACKING_PASSWORD``, the variables MLflow's client reads. The admin credential stays on
the server side: a 0700 folder of 0600 files in the local state, the mounted Kubernetes Secret
in a cluster (the same two files, ``username`` and ``password``).

In Kubernetes the hub keeps the user's credential in the Secret :data:`CREDENTIAL_SECRET` of the
user's namespace, and every pod of the user (notebook, tuning workers, pipeline tasks) reads it
by ``secretKeyRef``: the value is in no pod spec.

MLflow's auth app does the rest: whoever creates an experiment or registered model gets MANAGE
on it, everyone else the ``default_permission`` (READ), so only owners (and those they grant
EDIT/MANAGE to, with MLflow's permission API) edit, delete or move aliases.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import os
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from jupyter_mlplat.config import USER_CREDENTIAL_VARIABLES
from jupyter_mlplat.errors import InvalidInput, Unavailable
from jupyter_mlplat.infra.files import write_private

#: What MLflow's client reads to authenticate; the user's own credential, handed to kernels.
USERNAME_VARIABLE, PASSWORD_VARIABLE = USER_CREDENTIAL_VARIABLES
#: The auth app's admin. Not ``admin``: a hub user of that name must never become the admin.
ADMIN_USERNAME = "mlplat-admin"
#: Permission of users on what others created (MLflow's ``default_permission``).
DEFAULT_PERMISSION = "READ"

_CREATE_USER = "/api/2.0/mlflow/users/create"
_UPDATE_PASSWORD = "/api/2.0/mlflow/users/update-password"  # noqa: S105 (a route)
_CURRENT_USER = "/api/2.0/mlflow/users/current"


@dataclass(frozen=True)
class AdminCredential:
    """The auth app's admin account; server side only (never in a user's environment)."""

    username: str
    password: str

    @classmethod
    def load(cls, folder: Path | str) -> AdminCredential:
        """Read ``username`` and ``password`` from ``folder`` (a mounted Secret's layout)."""
        path = Path(folder).expanduser()
        try:
            username = (path / "username").read_text().strip()
            password = (path / "password").read_text().strip()
        except OSError as err:
            raise Unavailable(f"no MLflow admin credential in {path}: {err.strerror}") from None
        if not username or not password:
            raise Unavailable(f"the MLflow admin credential in {path} is empty")
        return cls(username, password)

    @classmethod
    def create(cls, folder: Path | str) -> AdminCredential:
        """The credential in ``folder``, generated there (0700 folder, 0600 files) if missing."""
        path = Path(folder).expanduser()
        path.mkdir(mode=0o700, parents=True, exist_ok=True)
        path.chmod(0o700)
        if not (path / "password").exists():
            write_private(path / "username", ADMIN_USERNAME)
            write_private(path / "password", secrets.token_urlsafe(24))
        return cls.load(path)

    def derive(self, purpose: str) -> str:
        """A secret for ``purpose`` derived from the admin password (HMAC-SHA256)."""
        digest = hmac.new(self.password.encode(), purpose.encode(), hashlib.sha256).digest()
        return base64.urlsafe_b64encode(digest).decode().rstrip("=")

    def user_password(self, username: str) -> str:
        """``username``'s MLflow password: the same at every spawn, unique to the user, and it
        reveals nothing of the admin's. Rotating the admin password rotates them all."""
        return self.derive(f"mlflow-user:{username}")

    def authorization(self) -> str:
        return basic_authorization(self.username, self.password)


def basic_authorization(username: str, password: str) -> str:
    """An HTTP ``Authorization`` header value (Basic)."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def auth_server_config(folder: Path, admin: AdminCredential, database_uri: str) -> dict[str, str]:
    """Write the auth app's ``basic_auth.ini`` in ``folder``; return the server's environment
    (``mlflow server --app-name basic-auth`` with it creates the admin on first start)."""
    import importlib.util

    if importlib.util.find_spec("flask_wtf") is None:
        raise Unavailable(
            "MLflow's auth app needs Flask-WTF: pip install 'mlflow[auth]' "
            "(part of jupyter-mlplat's hub extra)"
        )
    ini = folder / "basic_auth.ini"
    write_private(
        ini,
        "\n".join(
            [
                "[mlflow]",
                f"default_permission = {DEFAULT_PERMISSION}",
                f"database_uri = {database_uri}",
                f"admin_username = {admin.username}",
                "authorization_function = mlflow.server.auth:authenticate_request_basic_auth",
                # users are checked on every request (PBKDF2): a short cache keeps logging fast
                "auth_cache_ttl_seconds = 60",
                "",
            ]
        ),
    )
    return {
        "MLFLOW_AUTH_CONFIG_PATH": str(ini),
        "MLFLOW_AUTH_ADMIN_PASSWORD": admin.password,
        "MLFLOW_FLASK_SERVER_SECRET_KEY": admin.derive("flask-secret-key"),
    }


def ensure_user(tracking_uri: str, admin: AdminCredential, username: str) -> str:
    """Make ``username`` an MLflow user with its derived password; return the password."""
    import requests

    if not username:
        raise InvalidInput("an MLflow user needs a name")
    if username == admin.username:
        raise InvalidInput(f"{username!r} is the MLflow admin's name: not a platform user")
    password = admin.user_password(username)
    base = tracking_uri.rstrip("/")
    body = {"username": username, "password": password}
    admin_headers = {"Authorization": admin.authorization()}
    try:
        # a returning user is set up already: one check, no password hashing on the server
        answer = requests.get(f"{base}{_CURRENT_USER}", auth=(username, password), timeout=30)
        if answer.status_code != 200:
            answer = requests.post(
                f"{base}{_CREATE_USER}", json=body, headers=admin_headers, timeout=30
            )
        if answer.status_code != 200 and "RESOURCE_ALREADY_EXISTS" in answer.text:
            answer = requests.patch(  # the admin password (and so the user's) was rotated
                f"{base}{_UPDATE_PASSWORD}", json=body, headers=admin_headers, timeout=30
            )
    except requests.RequestException as err:
        raise unreachable(tracking_uri, err) from None
    if answer.status_code != 200:
        raise refused(tracking_uri, f"set up user {username!r}", answer)
    return password


def unreachable(tracking_uri: str, err: Exception) -> Unavailable:
    return Unavailable(f"MLflow at {tracking_uri} is not reachable: {err}")


def refused(tracking_uri: str, what: str, answer: Any) -> Unavailable:
    """The one-line error of an admin call MLflow answered with an error."""
    return Unavailable(
        f"MLflow at {tracking_uri} refused to {what}: HTTP {answer.status_code} {answer.text[:200]}"
    )


def credential_environment(username: str, password: str) -> dict[str, str]:
    """The variables that make MLflow's client act as ``username``."""
    return {USERNAME_VARIABLE: username, PASSWORD_VARIABLE: password}


def user_credential(env: Mapping[str, str] | None = None) -> dict[str, str]:
    """This process's own MLflow credential (what a spawner set), or ``{}``."""
    env = os.environ if env is None else env
    if not env.get(USERNAME_VARIABLE) or not env.get(PASSWORD_VARIABLE):
        return {}
    return credential_environment(env[USERNAME_VARIABLE], env[PASSWORD_VARIABLE])


def user_authorization(env: Mapping[str, str] | None = None) -> str:
    """The ``Authorization`` header of this process's MLflow user ("" without one)."""
    credential = user_credential(env)
    if not credential:
        return ""
    return basic_authorization(credential[USERNAME_VARIABLE], credential[PASSWORD_VARIABLE])


# -- in Kubernetes: the credential in a Secret of the user's namespace ----------------------
#: The Secret the hub keeps in each user's namespace with the user's MLflow credential (keys
#: ``username``, ``password``); pods get it by reference, never as a value in their spec.
CREDENTIAL_SECRET = "mlplat-mlflow-credential"  # noqa: S105 (a name)
_SECRET_KEYS = {USERNAME_VARIABLE: "username", PASSWORD_VARIABLE: "password"}


def credential_secret(
    namespace: str, username: str, password: str, labels: Mapping[str, str]
) -> dict[str, Any]:
    """The manifest of ``username``'s :data:`CREDENTIAL_SECRET` in ``namespace``."""
    return {
        "apiVersion": "v1",
        "kind": "Secret",
        "type": "Opaque",
        "metadata": {"name": CREDENTIAL_SECRET, "namespace": namespace, "labels": dict(labels)},
        "stringData": {"username": username, "password": password},
    }


def credential_references(*, optional: bool = False) -> list[dict[str, Any]]:
    """Container ``env`` entries reading the credential from :data:`CREDENTIAL_SECRET`
    (``optional``: a pod also starts where the hub made none, i.e. without tracking auth)."""
    return [
        {"name": var, "valueFrom": {"secretKeyRef": secret_key_ref(key, optional=optional)}}
        for var, key in _SECRET_KEYS.items()
    ]


def secret_key_ref(key: str, *, optional: bool = False) -> dict[str, Any]:
    ref: dict[str, Any] = {"name": CREDENTIAL_SECRET, "key": key}
    if optional:
        ref["optional"] = True
    return ref


def is_credential_reference(variable: str, secret_name: str) -> bool:
    """Whether an env entry ``variable`` from the Secret ``secret_name`` is the user's
    credential by reference (the one Secret a user pod may read)."""
    return variable in _SECRET_KEYS and secret_name == CREDENTIAL_SECRET
