"""The MLflow model registry as the deploy surfaces see it: resolve references, search models,
describe versions with their runs, quality checks and deployments."""

from __future__ import annotations

import re
from pathlib import Path
from typing import TYPE_CHECKING, Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.models import ModelRef
from jupyter_mlplat.errors import InvalidInput, NotFound, Unavailable
from jupyter_mlplat.quality.record import METRIC_PREFIX, results_of_run
from jupyter_mlplat.tracking.tags import pipeline_of
from jupyter_mlplat.tracking.ui import run_ui_path

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


# -- browsing the registry (the models panel's REST API) ------------------------------------

MAX_QUERY_LENGTH = 200
MAX_SEARCH_LIMIT = 200
#: How many models a search reads to match tags and descriptions (the server filters names).
SEARCH_SCAN_LIMIT = 1000
#: Most versions a model's details list (newest first).
MAX_VERSIONS = 500
VERSION_PATTERN = re.compile(r"^[1-9]\d{0,9}$")

_MISSING = ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND")


def check_search(query: str, limit: int) -> tuple[str, int]:
    """Validate a model search: the stripped query and the limit, or InvalidInput."""
    query = (query or "").strip()
    if len(query) > MAX_QUERY_LENGTH:
        raise InvalidInput(f"the search text is too long (at most {MAX_QUERY_LENGTH} characters)")
    if not 1 <= limit <= MAX_SEARCH_LIMIT:
        raise InvalidInput(f"limit must be between 1 and {MAX_SEARCH_LIMIT}, not {limit}")
    return query, limit


def quoted(value: str) -> str | None:
    """``value`` as a string literal of an MLflow filter, or None when it cannot be quoted."""
    if "'" not in value:
        return f"'{value}'"
    if '"' not in value:
        return f'"{value}"'
    return None


def seconds(timestamp_ms: int | None) -> float | None:
    """An MLflow millisecond timestamp as epoch seconds (what deployment records use)."""
    return timestamp_ms / 1000 if timestamp_ms else None


class Registry:
    """Search and describe registered models for the models panel (MLflow calls block)."""

    def __init__(self, config: MLPlat, client: MlflowClient | None = None) -> None:
        self.config = config
        self._client = client

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            self._client = client_for(self.config)
        return self._client

    def search(self, query: str = "", limit: int = 50) -> list[dict[str, Any]]:
        """Models whose name, tags or description contain ``query``; best matches first.

        MLflow filters names server-side (ILIKE); tags and descriptions are matched here over
        the most recently updated :data:`SEARCH_SCAN_LIMIT` models, so a search stays bounded.
        """
        query, limit = check_search(query, limit)
        if not query:
            page = self._call(
                self.client.search_registered_models,
                max_results=limit,
                order_by=["last_updated_timestamp DESC"],
            )
            return [model_json(m) for m in page]
        needle = query.lower()
        candidates: dict[str, Any] = {}
        literal = quoted(f"%{query}%")
        if literal is not None:
            try:
                by_name = self._call(
                    self.client.search_registered_models,
                    filter_string=f"name ILIKE {literal}",
                    max_results=limit,
                )
                candidates.update((m.name, m) for m in by_name)
            except InvalidInput:
                pass  # text MLflow's filter parser refuses: the scan below still matches it
        token = None
        scanned = 0
        while scanned < SEARCH_SCAN_LIMIT:
            page = self._call(
                self.client.search_registered_models,
                max_results=min(200, SEARCH_SCAN_LIMIT - scanned),
                order_by=["last_updated_timestamp DESC"],
                page_token=token,
            )
            candidates.update((m.name, m) for m in page)
            scanned += len(page)
            token = page.token
            if not token or not page:
                break
        ranked = []
        for model in candidates.values():
            match = match_kind(model, needle)
            if match is not None:
                ranked.append((match, model))
        ranked.sort(key=lambda hit: (hit[0][0], -(hit[1].last_updated_timestamp or 0)))
        return [model_json(model) | {"match": match[1]} for match, model in ranked[:limit]]

    def model(self, name: str) -> dict[str, Any]:
        """A registered model with its versions (newest first); NotFound when unknown."""
        model = self._call(self.client.get_registered_model, name, missing=f"model {name!r}")
        literal = quoted(name)
        if literal is None:
            raise InvalidInput(f"invalid model name {name!r}")
        versions = self._call(
            self.client.search_model_versions,
            filter_string=f"name = {literal}",
            max_results=MAX_VERSIONS,
            order_by=["version_number DESC"],
        )
        # search_model_versions leaves aliases out: take them from the model.
        aliases: dict[str, list[str]] = {}
        for alias, number in (model.aliases or {}).items():
            aliases.setdefault(str(number), []).append(alias)
        return model_json(model) | {
            "versions": [
                version_json(v) | {"aliases": sorted(aliases.get(str(v.version), []))}
                for v in versions
                if v.name == name
            ]
        }

    def version(
        self, name: str, version: str, deployments: list[Any] | None = None
    ) -> dict[str, Any]:
        """A model version with the run that produced it, its quality checks and deployments.

        ``deployments`` are the caller's Deployment records; those serving this version (as
        stable or canary) are listed by name.
        """
        if not VERSION_PATTERN.match(version or ""):
            raise InvalidInput(f"invalid model version {version!r}: use a number like 3")
        found = self._call(
            self.client.get_model_version,
            name,
            version,
            missing=f"version {version} of model {name!r}",
        )
        result = version_json(found) | {"name": name, "run": None, "quality": []}
        if found.run_id:
            run = self._run(found.run_id)
            if run is not None:
                metrics = dict(run.data.metrics)
                tags = dict(run.data.tags)
                result["run"] = {
                    "id": run.info.run_id,
                    "name": run.info.run_name or "",
                    "experiment_id": run.info.experiment_id,
                    "status": run.info.status,
                    "params": dict(run.data.params),
                    "metrics": {
                        k: v for k, v in metrics.items() if not k.startswith(METRIC_PREFIX)
                    },
                    "ui_path": run_ui_path(run.info.experiment_id, run.info.run_id),
                    # the pipeline run that produced it (DAG, run, task, try), if one did
                    "pipeline": pipeline_of(tags),
                }
                result["quality"] = results_of_run(metrics, tags)
        result["deployments"] = serving(deployments or [], name, str(found.version))
        return result

    def _run(self, run_id: str) -> Any:
        """The run behind a version, or None when it was deleted or is not readable."""
        return run_or_none(self.client, run_id)

    @staticmethod
    def _call(function: Any, *args: Any, missing: str = "", **kwargs: Any) -> Any:
        return mlflow_call(function, *args, missing=missing, **kwargs)


def run_or_none(client: MlflowClient, run_id: str) -> Any:
    """A run, or None when it was deleted or does not exist; other errors are Unavailable."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_run(run_id)
    except MlflowException as err:
        if getattr(err, "error_code", "") in _MISSING:
            return None
        raise Unavailable(f"MLflow: {err.message}") from None


def mlflow_call(
    function: Any, *args: Any, missing: str = "", owner: str = "registry", **kwargs: Any
) -> Any:
    """Call the MLflow client; its errors become NotFound ("the <owner> has no <missing>"),
    InvalidInput or Unavailable, one line each."""
    from mlflow.exceptions import MlflowException

    try:
        return function(*args, **kwargs)
    except MlflowException as err:
        code = getattr(err, "error_code", "")
        if missing and code in _MISSING:
            raise NotFound(f"the {owner} has no {missing}") from None
        text = str(err.message).strip()
        first = text.splitlines()[0] if text else str(code)
        if code == "INVALID_PARAMETER_VALUE":
            raise InvalidInput(f"MLflow {owner}: {first}") from None
        raise Unavailable(f"MLflow {owner}: {first}") from None


def match_kind(model: Any, needle: str) -> tuple[int, str] | None:
    """How a model matches a lowercase search text: (rank, kind), lower ranks first."""
    name = model.name.lower()
    tags = model.tags or {}
    checks = [
        (name == needle, "name"),
        (name.startswith(needle), "name"),
        (needle in name, "name"),
        (any(needle in f"{k}\n{v}".lower() for k, v in tags.items()), "tag"),
        (needle in (model.description or "").lower(), "description"),
        (any(needle in alias.lower() for alias in (model.aliases or {})), "alias"),
    ]
    return next(((rank, kind) for rank, (hit, kind) in enumerate(checks) if hit), None)


def model_json(model: Any) -> dict[str, Any]:
    """A registered model as the REST API shows it."""
    latest = [int(v.version) for v in (model.latest_versions or [])]
    return {
        "name": model.name,
        "description": model.description or "",
        "tags": dict(model.tags or {}),
        "aliases": {alias: str(v) for alias, v in (model.aliases or {}).items()},
        "latest_version": str(max(latest)) if latest else None,
        "created": seconds(model.creation_timestamp),
        "updated": seconds(model.last_updated_timestamp),
    }


def version_json(version: Any) -> dict[str, Any]:
    """A model version as the REST API shows it."""
    return {
        "version": str(version.version),
        "aliases": sorted(version.aliases or []),
        "run_id": version.run_id or "",
        "source": version.source or "",
        "status": version.status or "",
        "created": seconds(version.creation_timestamp),
        "updated": seconds(version.last_updated_timestamp),
        "tags": dict(version.tags or {}),
        "description": version.description or "",
    }


def serving(deployments: list[Any], name: str, version: str) -> list[str]:
    """Names of the deployments whose stable or canary revision is ``name`` ``version``."""
    names = []
    for deployment in deployments:
        for revision in (deployment.stable, deployment.canary):
            model = getattr(revision, "model", None)
            if model is not None and model.name == name and str(model.version) == version:
                names.append(deployment.name)
                break
    return sorted(names)
