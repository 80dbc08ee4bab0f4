"""Each hub user's MLflow identity, made at spawn (the local hub and the Kubernetes spawner).

The hub holds the tracking server's admin credential (``MLPlat.tracking_admin_dir``); before a
user's server starts it makes the MLflow user of the same name with its derived password and
puts that credential — only that one — in the server's environment, whence it reaches the
user's kernels and the lab's MLflow proxy.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from jupyter_mlplat.tracking.auth import AdminCredential, credential_environment, ensure_user


async def prepare_tracking_identity(spawner: Any, tracking_uri: str, admin_dir: Path) -> None:
    """Make ``spawner``'s user an MLflow user and give its server that user's credential."""
    admin = AdminCredential.load(admin_dir)  # read at each spawn: a rotated Secret applies
    user = spawner.user.name
    password = await asyncio.to_thread(ensure_user, tracking_uri, admin, user)
    spawner.environment = {**spawner.environment, **credential_environment(user, password)}
