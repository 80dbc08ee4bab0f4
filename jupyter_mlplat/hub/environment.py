"""Each user's single-user server environment, built from the one configuration object.

A spawner (KubeSpawner in a cluster, a local process spawner on one machine) calls
:func:`user_environment` for every user: the team's settings (``c.MLPlat.*`` in the hub's
config, ``MLP_*`` in the hub's environment, the spawner's defaults) plus the per-user values,
rendered by :meth:`MLPlat.to_environment` — never a second hand-written list of variables.
Storage credentials are never part of it: the MLflow server and KServe hold them.
"""

from __future__ import annotations

import fnmatch
from collections.abc import Callable, Mapping
from typing import Any

from traitlets.config import Config

from jupyter_mlplat.config import DEFAULT_SECRET_PATTERNS, USER_CREDENTIAL_VARIABLES, MLPlat

#: Secrets that would give a user pod storage access. The hub's own API token is the one
#: credential a single-user server needs (the provisioner keeps it out of kernels).
STORAGE_SECRET_PATTERNS = [
    p for p in DEFAULT_SECRET_PATTERNS if not p.startswith(("JUPYTERHUB_", "JPY_"))
]

#: Variables a spawner deliberately leaves to the single-user server's own default, and why.
LEFT_TO_DEFAULT = {
    "MLP_STATE_DIR": "server state lives in the user's home (~/.local/share/jupyter-mlplat)",
    "MLP_NOTEBOOK_PATH": "set per kernel by the server from the notebook being opened",
    "MLP_SERVING_ENV_DIR": "local model servers keep their environment under the state dir",
    "MLP_TRACKING_ADMIN_DIR": "the MLflow admin credential is the hub's: a server gets its user's",
}


def is_storage_secret(variable: str) -> bool:
    """Whether ``variable`` carries storage credentials (never set in a user's server); the
    user's own MLflow credential does not."""
    if variable in USER_CREDENTIAL_VARIABLES:
        return False
    return any(fnmatch.fnmatchcase(variable, p) for p in STORAGE_SECRET_PATTERNS)


def team_environment(hub_env: Mapping[str, str]) -> dict[str, str]:
    """The ``MLP_*`` variables of the hub's own environment: team-wide settings."""
    return {k: v for k, v in hub_env.items() if k.startswith("MLP_")}


def user_settings(
    username: str,
    *,
    hub_config: Config | None = None,
    hub_env: Mapping[str, str] | None = None,
    defaults: Mapping[str, Any] | None = None,
    per_user: Mapping[str, Any] | None = None,
) -> MLPlat:
    """The configuration a user's server runs with.

    Precedence, lowest first: ``defaults`` (the spawner's, as trait values), ``MLP_*`` of the
    hub's environment, ``c.MLPlat.*`` of the hub's config, ``per_user`` values (user name,
    namespace, ...), which always win.
    """
    probe = MLPlat(env={})
    env: dict[str, str] = {}
    for name, value in (defaults or {}).items():
        single = MLPlat(env={})
        setattr(single, name, value)  # validated here: a bad default fails at hub start
        var = probe.traits()[name].metadata["env"][0]
        env[var] = single.to_environment()[var]
    env |= team_environment(hub_env or {})
    section = dict((hub_config or Config()).get("MLPlat", {}))
    section |= {"user": username, **(per_user or {})}
    return MLPlat(config=Config({"MLPlat": section}), env=env)


def user_environment(settings: MLPlat) -> dict[str, str]:
    """The variables a spawner sets in the user's server: every ``MLP_*`` setting except those
    in :data:`LEFT_TO_DEFAULT`, and never a storage secret."""
    env = settings.to_environment()
    return {
        var: value
        for var, value in env.items()
        if var not in LEFT_TO_DEFAULT and not is_storage_secret(var)
    }


def environment_callables(
    build: Callable[[Any], dict[str, str]], variables: list[str]
) -> dict[str, Callable[[Any], str]]:
    """``Spawner.environment`` entries that call ``build(spawner)`` once per spawn.

    JupyterHub evaluates callables in ``environment`` with the spawner; the built environment is
    cached on the spawner for the other variables of the same spawn.
    """

    def value_of(var: str) -> Callable[[Any], str]:
        def value(spawner: Any) -> str:
            cached = getattr(spawner, "_mlplat_environment", None)
            if cached is None or cached[0] is not spawner.user_options:
                cached = (spawner.user_options, build(spawner))
                spawner._mlplat_environment = cached
            return cached[1].get(var, "")

        return value

    return {var: value_of(var) for var in variables}


def all_variables() -> list[str]:
    """Every ``MLP_*`` variable a spawner sets (the primary name of each setting)."""
    return [v for v in MLPlat(env={}).to_environment() if v not in LEFT_TO_DEFAULT]
