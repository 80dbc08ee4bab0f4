"""Each hub user's MLflow identity, made at spawn (the local hub and the Kubernetes spawner).

The hub holds the tracking server's admin credential (``MLPlat.tracking_admin_dir``); before a
user's server starts it makes the MLflow user of the same name with its derived password and
puts that credential — only that one — in the server's environment, whence it reaches the
user's kernels and the lab's MLflow proxy. The user's JupyterHub groups become their MLflow team
roles (:mod:`jupyter_mlplat.tracking.teams`).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyter_mlplat.tracking.auth import AdminCredential, credential_environment, ensure_user
from jupyter_mlplat.tracking.teams import sync_teams


async def prepare_tracking_identity(spawner: Any, tracking_uri: str, admin_dir: Path) -> str:
    """Make ``spawner``'s user an MLflow user (in its team roles) and give its server that
    user's credential; return the password."""
    admin = AdminCredential.load(admin_dir)  # read at each spawn: a rotated Secret applies
    user = spawner.user.name
    password = await asyncio.to_thread(ensure_user, tracking_uri, admin, user)
    groups = [group.name for group in spawner.user.groups]
    await asyncio.to_thread(sync_teams, tracking_uri, admin, user, groups)
    spawner.environment = {**spawner.environment, **credential_environment(user, password)}
    return password
