"""``mlplat-auth``: MLflow's basic-auth app plus team grants (``--app-name mlplat-auth``).

MLflow 3.17's auth app has roles (per workspace, with per-resource grants, assigned to users)
but no notion of "the team of whoever created this": it gives the creator MANAGE through the
creator's own hidden role and everyone else ``default_permission``. This app adds one
after-request hook in the server, next to upstream's own: when a user creates an experiment or
a registered model, each of the creator's team roles (:data:`TEAM_ROLE_PREFIX`, kept in step
with the hub's groups by :func:`jupyter_mlplat.tracking.teams.sync_teams`) gets
``MLPlat.tracking_team_permission`` on it. A team role carries its grants, so someone joining
the team later gets them at once; a registered model's team grants follow its renames and go
with it when it is deleted (upstream sweeps only the users' own roles).

Loaded by the MLflow server process only (it imports Flask and MLflow's server).
"""

from __future__ import annotations

from typing import Any

from jupyter_mlplat.tracking.teams import TEAM_ROLE_PREFIX, WORKSPACE

#: The ``mlflow.app`` entry point name and its target.
APP_NAME = "mlplat-auth"
APP_TARGET = "jupyter_mlplat.tracking.team_app:create_app"


def create_app(app: Any = None) -> Any:
    """MLflow's basic-auth app (FastAPI under uvicorn) with the team hook on its Flask app."""
    from mlflow.server import app as flask_app
    from mlflow.server.auth import create_app as basic_auth_app

    flask = app or flask_app
    flask.after_request(_grant_teams)  # runs before upstream's hook: Flask runs them reversed
    return basic_auth_app(flask)


def _routes() -> dict[tuple[str, str], str]:
    from mlflow.server.handlers import _get_ajax_path, _get_rest_path

    routes = {
        ("/mlflow/experiments/create", "POST"): "experiment",
        ("/mlflow/registered-models/create", "POST"): "model",
        ("/mlflow/registered-models/rename", "POST"): "rename",
        ("/mlflow/registered-models/delete", "DELETE"): "delete",
    }
    return {
        (path(route), method): action
        for (route, method), action in routes.items()
        for path in (_get_rest_path, _get_ajax_path)
    }


_ROUTES: dict[tuple[str, str], str] = {}


def _grant_teams(response: Any) -> Any:
    from flask import g, request

    if not _ROUTES:
        _ROUTES.update(_routes())
    action = _ROUTES.get((request.path, request.method))
    if action is None or response.status_code != 200:
        return response
    from mlflow.server import auth

    store = auth.store
    body = request.get_json(force=True, silent=True) or dict(request.args)
    if action in ("rename", "delete"):
        _follow_model(store, body.get("name", ""), body.get("new_name", ""))
        return response
    # who made it: the auth app's before-request hook authenticated the request
    user = store.get_user(str(g.mlflow_authenticated_user))
    teams = [r for r in store.list_user_roles(user.id) if _is_team(r)]
    if not teams:
        return response
    permission = _team_permission()
    if action == "experiment":
        kind, pattern = "experiment", str(response.get_json()["experiment_id"])
    else:
        model = response.get_json()["registered_model"]
        tags = {t.get("key"): t.get("value") for t in model.get("tags", [])}
        kind = "prompt" if tags.get("mlflow.prompt.is_prompt") == "true" else "registered_model"
        pattern = model["name"]
    for role in teams:
        store.add_role_permission(role.id, kind, pattern, permission)
    return response


def _follow_model(store: Any, name: str, new_name: str) -> None:
    """A renamed model keeps its teams' grants; a deleted one takes them along (a new model of
    the same name must not inherit them)."""
    for role in store.list_roles([WORKSPACE]):
        if not _is_team(role):
            continue
        for grant in store.list_role_permissions(role.id):
            if grant.resource_type in ("registered_model", "prompt") and (
                grant.resource_pattern == name
            ):
                store.remove_role_permission(grant.id)
                if new_name:
                    store.add_role_permission(
                        role.id, grant.resource_type, new_name, grant.permission
                    )


def _is_team(role: Any) -> bool:
    return bool(role.workspace == WORKSPACE and role.name.startswith(TEAM_ROLE_PREFIX))


def _team_permission() -> str:
    from jupyter_mlplat.config import MLPlat

    return str(MLPlat().tracking_team_permission)
