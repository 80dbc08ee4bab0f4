"""The local MLflow tracking server in ONE process (``python -m jupyter_mlplat.tracking.server``).

``mlflow server`` stays alive as a parent that has initialised the stores (~200 MB) and runs
uvicorn as a second Python process (~200 MB more) even with ``--workers 1``. For one user this
does what the CLI does for uvicorn — the stores initialised (schema created or checked), the
worker's ``_MLFLOW_SERVER_*`` settings in the environment — and serves MLflow's own FastAPI app
with uvicorn in this process.
"""

from __future__ import annotations

import argparse
import os
import uuid
from pathlib import Path


def serve(
    backend_store_uri: str,
    artifacts_destination: str,
    host: str,
    port: int,
    keep_alive: int,
    *,
    app_name: str = "",
) -> None:
    """Serve tracking, registry, UI and the artifact proxy (``--serve-artifacts``) until stopped;
    ``app_name`` an MLflow app plugin around it (``basic-auth``: users and permissions;
    ``mlplat-auth``: the same with team groups)."""
    import mlflow.server
    from mlflow.environment_variables import (
        _MLFLOW_IN_JOB_EXECUTOR,
        _MLFLOW_SERVER_BOOT_ID,
        _MLFLOW_SGI_NAME,
        MLFLOW_ENABLE_WORKSPACES,
    )
    from mlflow.server import constants

    default_artifact_root = "mlflow-artifacts:/"
    os.environ |= {  # what ``mlflow server`` hands its uvicorn worker
        constants.BACKEND_STORE_URI_ENV_VAR: backend_store_uri,
        constants.REGISTRY_STORE_URI_ENV_VAR: backend_store_uri,
        constants.ARTIFACT_ROOT_ENV_VAR: default_artifact_root,
        constants.SERVE_ARTIFACTS_ENV_VAR: "true",
        constants.ARTIFACTS_DESTINATION_ENV_VAR: artifacts_destination,
        _MLFLOW_SERVER_BOOT_ID.name: uuid.uuid4().hex,
        _MLFLOW_IN_JOB_EXECUTOR.name: "false",
        _MLFLOW_SGI_NAME.name: "uvicorn",
        MLFLOW_ENABLE_WORKSPACES.name: "false",
    }
    from mlflow.server.handlers import initialize_backend_stores

    initialize_backend_stores(backend_store_uri, backend_store_uri, default_artifact_root)

    import uvicorn

    app, factory = "mlflow.server.fastapi_app:app", False
    if app_name:
        app, factory = plugin_app(app_name)
    log_config = Path(mlflow.server.__file__).parent / "uvicorn_log_config.yaml"
    uvicorn.run(
        app,
        factory=factory,
        host=host,
        port=port,
        workers=1,
        timeout_keep_alive=keep_alive,
        log_config=str(log_config) if log_config.exists() else None,
    )


def plugin_app(name: str) -> tuple[str, bool]:
    """An ``mlflow.app`` entry point as uvicorn loads it: (``module:object``, is a factory).
    ``basic-auth`` (and ``mlplat-auth``, which wraps it) first checks its configuration and
    creates the admin user, as the CLI does."""
    import inspect
    from importlib import import_module
    from importlib.metadata import entry_points

    from jupyter_mlplat.tracking.team_app import APP_NAME, APP_TARGET

    found = [e.value for e in entry_points(group="mlflow.app") if e.name == name]
    if name == APP_NAME:  # ours: no installed metadata needed (an editable install predating it)
        found = [APP_TARGET]
    if not found:
        raise SystemExit(f"no MLflow app named {name!r} is installed")
    module, _, attribute = found[0].partition(":")
    factory = inspect.isfunction(getattr(import_module(module), attribute))
    if name in ("basic-auth", APP_NAME):
        from mlflow.server.auth import bootstrap_admin_user, get_flask_server_secret_key

        get_flask_server_secret_key()
        bootstrap_admin_user()
    return found[0], factory


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--backend-store-uri", required=True)
    parser.add_argument("--artifacts-destination", required=True)
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--timeout-keep-alive", type=int, default=600)
    parser.add_argument("--app-name", default="")
    args = parser.parse_args()
    serve(
        args.backend_store_uri,
        args.artifacts_destination,
        args.host,
        args.port,
        args.timeout_keep_alive,
        app_name=args.app_name,
    )


if __name__ == "__main__":
    main()
