"""A local multi-user JupyterHub (``mlplat hub``): try the login flow on one machine.

JupyterHub + configurable-http-proxy (from ``spawner_config/local``, installed by
``scripts/setup.sh``), a shared-password login for the listed users, and
``SimpleLocalProcessSpawner``: each user's JupyterLab runs as a process of this account with its
own home (and so its own Jupyter config and platform state) under ``<state>/hub/users/``, and
the platform settings of :mod:`jupyter_mlplat.hub.environment`, sharing the local MLflow and
Spark Connect servers. Not isolation: for trying the flow, never for production. The users'
servers are forked from a fork server (:mod:`jupyter_mlplat.hub.forkserver`) that has imported
their libraries once: a login does not pay those imports again.
"""

from __future__ import annotations

import os
import secrets
import sys
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.hub.environment import (
    all_variables,
    environment_callables,
    team_environment,
    user_environment,
    user_settings,
)
from jupyter_mlplat.infra.files import write_private
from jupyter_mlplat.infra.processes import Service, ServiceError, free_port

ROOT = Path(__file__).resolve().parents[2]
#: The hub's REST API client: the ``mlplat`` service (stopping servers, benchmarks).
SERVICE_NAME = "mlplat"
CONFIG_TEMPLATE = '''"""Written by `mlplat hub`: the local hub's JupyterHub config."""
from jupyter_mlplat.hub.local import configure_local_hub

configure_local_hub(get_config(), {settings!r})  # noqa: F821
'''


def proxy_binary() -> Path:
    """configurable-http-proxy from ``spawner_config/local`` (or ``$PATH``)."""
    local = ROOT / "spawner_config" / "local" / "node_modules" / ".bin" / "configurable-http-proxy"
    if local.exists():
        return local
    from shutil import which

    found = which("configurable-http-proxy")
    if not found:
        raise ServiceError(
            "configurable-http-proxy is not installed: run scripts/setup.sh "
            "(npm ci in spawner_config/local)"
        )
    return Path(found)


@dataclass
class HubSettings:
    """What the hub's config file needs; written as JSON next to it."""

    hub_dir: str
    port: int
    hub_port: int
    proxy_api_port: int
    tracking_uri: str
    spark_remote: str = ""
    spark_ui_url: str = ""
    artifacts_destination: str = ""
    users: list[str] = field(default_factory=list)
    #: JupyterHub groups and their members (team groups on the MLflow auth app).
    groups: dict[str, list[str]] = field(default_factory=dict)
    team_env: dict[str, str] = field(default_factory=dict)
    #: The MLflow admin credential's folder when the tracking server runs its auth app.
    tracking_admin_dir: str = ""
    #: The fork server's Unix socket ("": every user's server a new process).
    fork_server: str = ""

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


class LocalHub:
    """The hub process, its state under ``<state>/hub`` and its credentials."""

    def __init__(
        self,
        config: MLPlat,
        *,
        tracking_uri: str,
        spark_remote: str = "",
        spark_ui_url: str = "",
        artifacts_destination: str = "",
        port: int = 0,
        users: list[str] | None = None,
        groups: dict[str, list[str]] | None = None,
        fork_server: bool = True,
    ) -> None:
        self.dir = config.resolved_state_dir / "hub"
        self.settings = HubSettings(
            hub_dir=str(self.dir),
            port=free_port(port),
            hub_port=free_port(),
            proxy_api_port=free_port(),
            tracking_uri=tracking_uri,
            spark_remote=spark_remote,
            spark_ui_url=spark_ui_url,
            artifacts_destination=artifacts_destination,
            users=sorted(set(users or [])),
            groups={name: sorted(set(members)) for name, members in (groups or {}).items()},
            team_env=team_environment(config.to_environment(for_kernel=True)),
            tracking_admin_dir=(
                str(config.resolved_tracking_admin_dir) if config.tracking_auth else ""
            ),
            fork_server=str(self.dir / "forkserver.sock") if fork_server else "",
        )
        self.service: Service | None = None
        self.fork_service: Service | None = None

    @property
    def url(self) -> str:
        return self.settings.url

    def _secret(self, name: str, value: str = "") -> str:
        path = self.dir / name
        if value or not path.exists():
            write_private(path, value or secrets.token_urlsafe(18))
        return path.read_text().strip()

    @property
    def password(self) -> str:
        """The users' shared password (``<state>/hub/password``)."""
        return self._secret("password")

    @property
    def api_token(self) -> str:
        """Token of the ``mlplat`` service (admin of users' servers) for the hub's REST API."""
        return self._secret("api_token")

    def prepare(self, password: str = "") -> Path:
        """Write the config file; return its path."""
        self.dir.mkdir(parents=True, exist_ok=True)
        self._secret("password", password)
        self.api_token  # noqa: B018 (created once)
        config_file = self.dir / "jupyterhub_config.py"
        config_file.write_text(CONFIG_TEMPLATE.format(settings=asdict(self.settings)))
        return config_file

    def start(self, password: str = "", timeout: float = 120) -> float:
        """Start JupyterHub (it starts the proxy) and wait for ``/hub/health``."""
        config_file = self.prepare(password)
        env = {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            "GX_ANALYTICS_ENABLED": "false",
            "PATH": f"{Path(sys.executable).parent}:{os.environ.get('PATH', '')}",
        }
        log = self.dir.parent / "logs" / "jupyterhub.log"
        if self.settings.fork_server:
            # not waited for: until it listens, the spawner starts servers as new processes
            self.fork_service = Service(
                "forkserver",
                [sys.executable, "-m", "jupyter_mlplat.hub.forkserver",
                 self.settings.fork_server, "--parent", str(os.getpid())],
                "",
                log,  # the users' servers log where they did as the hub's children
                env,
                cwd=self.dir,
            )  # fmt: skip
            self.fork_service.start()
        self.service = Service(
            "jupyterhub",
            [sys.executable, "-m", "jupyterhub", "-f", str(config_file)],
            f"{self.url}/hub/health",
            log,
            env,
            cwd=self.dir,
        )
        self.service.start()
        return self.service.wait_ready(timeout)

    def failure(self) -> str:
        """Why the hub is not running any more ("" while it runs)."""
        process = self.service.process if self.service else None
        if self.service is None or process is None or process.poll() is None:
            return ""
        return f"JupyterHub exited with code {process.returncode}:\n{self.service.log_tail()}"

    def stop(self) -> None:
        """Stop the hub; it stops the users' servers and the proxy it started."""
        if self.service is not None:
            self.service.stop(timeout=60)
        if self.fork_service is not None:
            self.fork_service.stop(timeout=10)


# -- inside the hub process ----------------------------------------------------------------
def local_user_environment(settings: HubSettings, username: str) -> dict[str, str]:
    """A user's server environment: the team's settings, the shared local services, the user."""
    mlplat = user_settings(
        username,
        hub_env=settings.team_env,
        per_user={
            "tracking_uri": settings.tracking_uri,
            "spark_mode": "local" if settings.spark_remote else "none",
            "spark_remote": settings.spark_remote,
            "spark_ui_url": settings.spark_ui_url,
            "artifacts_destination": settings.artifacts_destination,
            "deploy_target": "local",
            "namespace": "default",
        },
    )
    return user_environment(mlplat)


def configure_local_hub(c: Any, raw: dict[str, Any]) -> None:
    """JupyterHub settings of the local hub (called from the generated config file)."""
    settings = HubSettings(**raw)
    hub_dir = Path(settings.hub_dir)
    c.JupyterHub.bind_url = f"{settings.url}/"
    c.JupyterHub.hub_bind_url = f"http://127.0.0.1:{settings.hub_port}"
    c.JupyterHub.db_url = f"sqlite:///{hub_dir / 'jupyterhub.sqlite'}"
    c.JupyterHub.cookie_secret_file = str(hub_dir / "cookie_secret")
    c.JupyterHub.pid_file = str(hub_dir / "jupyterhub.pid")
    c.JupyterHub.cleanup_servers = True
    c.JupyterHub.cleanup_proxy = True
    c.ConfigurableHTTPProxy.command = [str(proxy_binary())]
    c.ConfigurableHTTPProxy.api_url = f"http://127.0.0.1:{settings.proxy_api_port}"
    c.ConfigurableHTTPProxy.pid_file = str(hub_dir / "proxy.pid")

    c.JupyterHub.authenticator_class = (
        "jupyterhub.authenticators.shared.SharedPasswordAuthenticator"
    )
    c.SharedPasswordAuthenticator.user_password = (hub_dir / "password").read_text().strip()
    if settings.users:
        c.Authenticator.allowed_users = set(settings.users)
    else:
        c.Authenticator.allow_all = True  # the demo: any name with the shared password

    c.JupyterHub.load_groups = {name: {"users": users} for name, users in settings.groups.items()}

    api_token = (hub_dir / "api_token").read_text().strip()
    c.JupyterHub.services = [{"name": SERVICE_NAME, "api_token": api_token}]
    c.JupyterHub.load_roles = [
        {
            "name": "mlplat-service",
            "scopes": ["admin:users", "admin:servers", "list:users", "read:users"],
            "services": [SERVICE_NAME],
        }
    ]

    # reports the server up as soon as it answers (the hub's own wait backs off up to 5 s)
    c.JupyterHub.spawner_class = "jupyter_mlplat.hub.spawner.LocalLabSpawner"
    c.SimpleLocalProcessSpawner.home_dir_template = str(hub_dir / "users" / "{username}")
    c.Spawner.cmd = [str(Path(sys.executable).parent / "jupyterhub-singleuser")]
    c.LocalLabSpawner.fork_server = settings.fork_server
    c.Spawner.args = ["--allow-root"] if os.geteuid() == 0 else []
    c.Spawner.default_url = "/lab"
    c.Spawner.start_timeout = 120
    c.Spawner.http_timeout = 120
    c.Spawner.environment = {
        "MLFLOW_DISABLE_TELEMETRY": "true",
        "GX_ANALYTICS_ENABLED": "false",
        **environment_callables(
            lambda spawner: local_user_environment(settings, spawner.user.name),
            all_variables(),
        ),
    }
    if settings.tracking_admin_dir:
        configure_tracking_identity(c, settings)


def configure_tracking_identity(c: Any, settings: HubSettings) -> None:
    """Each user's server logs to MLflow as that user (made at spawn by the hub)."""
    from jupyter_mlplat.hub.identity import prepare_tracking_identity

    admin_dir = Path(settings.tracking_admin_dir)

    async def pre_spawn_hook(spawner: Any) -> None:
        await prepare_tracking_identity(spawner, settings.tracking_uri, admin_dir)

    c.Spawner.pre_spawn_hook = pre_spawn_hook
