"""Team groups on MLflow's auth app: a hub group is a role, its members are assigned to it.

The hub calls :func:`sync_teams` for a user at each spawn (with the admin credential, through
MLflow's role API): the role ``mlplat-team:<group>`` exists for each of the user's JupyterHub
groups, the user is assigned to those and unassigned from team roles of groups they left.
Roles the platform did not name (an admin's own) are left alone. The tracking server's
``mlplat-auth`` app (:mod:`jupyter_mlplat.tracking.team_app`) grants the creator's team roles
``tracking_team_permission`` on each experiment and registered model they create.

Limits: membership follows the hub at the user's next spawn (a user taken out of a group keeps
the team's grants until then); what a member created before joining a team is not the team's
(grants are made at creation); and a resource stays its team's when its creator leaves.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from jupyter_mlplat.tracking.auth import AdminCredential, refused, unreachable

#: Prefix of the roles the platform makes for team groups (and only touches those).
TEAM_ROLE_PREFIX = "mlplat-team:"
#: Roles live in a workspace; with MLflow's workspaces off everything is in ``default``.
WORKSPACE = "default"

_ROLES = "/api/3.0/mlflow/roles"
_USER_ROLES = "/api/3.0/mlflow/users/roles/list"


def team_role(group: str) -> str:
    return f"{TEAM_ROLE_PREFIX}{group}"


def sync_teams(
    tracking_uri: str, admin: AdminCredential, username: str, groups: Iterable[str]
) -> list[str]:
    """Make ``username``'s team roles those of ``groups``; return the role names it has."""
    import requests

    base = tracking_uri.rstrip("/")
    session = requests.Session()
    session.headers["Authorization"] = admin.authorization()

    def call(method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        try:
            answer = session.request(method, f"{base}{path}", timeout=30, **kwargs)
        except requests.RequestException as err:
            raise unreachable(tracking_uri, err) from None
        if answer.status_code != 200:
            raise refused(tracking_uri, f"set up the teams of {username!r}", answer)
        return dict(answer.json())

    wanted = {team_role(g) for g in groups if g}
    roles = {
        r["name"]: r["id"]
        for r in call("GET", f"{_ROLES}/list", params={"workspace": WORKSPACE})["roles"]
    }
    for name in sorted(wanted - roles.keys()):
        body = {"name": name, "workspace": WORKSPACE, "description": "jupyter-mlplat team group"}
        roles[name] = call("POST", f"{_ROLES}/create", json=body)["role"]["id"]
    held = {
        r["name"]: r["id"]
        for r in call("GET", _USER_ROLES, params={"username": username})["roles"]
        if r["workspace"] == WORKSPACE and r["name"].startswith(TEAM_ROLE_PREFIX)
    }
    for name in sorted(wanted - held.keys()):
        call("POST", f"{_ROLES}/assign", json={"username": username, "role_id": roles[name]})
    for name in sorted(held.keys() - wanted):
        call("DELETE", f"{_ROLES}/unassign", params={"username": username, "role_id": held[name]})
    return sorted(wanted)
