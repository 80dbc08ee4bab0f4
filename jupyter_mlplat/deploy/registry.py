"""The MLflow model registry as the deploy surfaces see it: resolve references, search models."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.models import ModelRef
from jupyter_mlplat.errors import InvalidInput, NotFound, Unavailable

if TYPE_CHECKING:
    from mlflow import MlflowClient

PROXY_SCHEME = "mlflow-artifacts:"


def client_for(config: MLPlat) -> MlflowClient:
    """An MLflow client of the configured tracking server (imported lazily)."""
    from mlflow import MlflowClient

    if not config.tracking_uri:
        raise Unavailable("no MLflow tracking server is configured (MLP_TRACKING_URI)")
    return MlflowClient(tracking_uri=config.tracking_uri, registry_uri=config.tracking_uri)


def storage_uri(location: str, artifacts_destination: str) -> str:
    """Where an artifact location really is: ``mlflow-artifacts:/x`` maps under the destination.

    KServe's storage initializer cannot read through MLflow's proxy (nor resolve ``models:/``),
    so the server, which knows the destination, hands it the underlying URI.
    """
    if not location.startswith(PROXY_SCHEME):
        return location
    if not artifacts_destination:
        raise Unavailable(
            f"cannot turn {location} into a storage URI: the MLflow server's artifact "
            "destination is not configured (MLP_ARTIFACTS_DESTINATION)"
        )
    path = location[len(PROXY_SCHEME) :].lstrip("/")
    return f"{artifacts_destination.rstrip('/')}/{path}"


def resolve_model(config: MLPlat, uri: str, client: MlflowClient | None = None) -> ModelRef:
    """Resolve ``models:/name@alias`` or ``models:/name/3`` to a version and its storage URI."""
    from mlflow.exceptions import MlflowException

    name, version, alias = ModelRef.parse(uri)
    client = client or client_for(config)
    try:
        if alias is not None:
            found = client.get_model_version_by_alias(name, alias)
        else:
            found = client.get_model_version(name, str(version))
    except MlflowException as err:
        code = getattr(err, "error_code", "")
        if code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            what = f"alias {alias!r}" if alias is not None else f"version {version}"
            raise NotFound(f"registered model {name!r} has no {what}") from None
        raise Unavailable(f"MLflow registry: {err.message}") from None
    location = _artifact_location(client, found)
    if not location:
        raise InvalidInput(f"{uri} has no artifact location in the registry")
    return ModelRef(
        uri=uri,
        name=name,
        version=str(found.version),
        source=found.source or "",
        storage_uri=storage_uri(location, config.artifacts_destination),
        run_id=found.run_id or "",
    )


def _artifact_location(client: MlflowClient, version: object) -> str:
    """The artifact location behind a model version (``models:/m-<id>`` → the logged model)."""
    source = getattr(version, "source", "") or ""
    model_id = getattr(version, "model_id", None)
    if not model_id and source.startswith("models:/m-"):
        model_id = source[len("models:/") :]
    if model_id:
        location = client.get_logged_model(model_id).artifact_location or ""
    elif source.startswith("runs:/"):
        run_id, _, path = source[len("runs:/") :].partition("/")
        location = f"{client.get_run(run_id).info.artifact_uri.rstrip('/')}/{path}"
    else:
        location = source
    return Path(location).as_uri() if location.startswith("/") else location
