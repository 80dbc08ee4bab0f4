"""The KServe target: one ``serving.kserve.io/v1beta1`` InferenceService per deployment.

The predictor serves the MLflow model with KServe's MLflow runtime (``modelFormat: mlflow``,
V2 protocol) from the artifact store itself: the registry reference was resolved server-side
to a storage URI (KServe can read neither ``models:/`` nor MLflow's artifact proxy), and the
storage credentials belong to a service account (``MLPlat.kserve_service_account``), never to
the user.

Canary, promote and rollback in KServe's two modes (the object's
``serving.kserve.io/deploymentMode`` annotation pins one):

- **Serverless** (Knative): the predictor gets the new storage URI and ``canaryTrafficPercent``;
  KServe keeps the last rolled-out revision as the stable one. Promote drops the percentage.
  Rolling back a canary sets the percentage to 0 (all traffic returns to the rolled-out
  revision at once, nothing restarts); rolling back after a promote redeploys the previous
  storage URI (Knative keeps routing to the running revision until the new one is ready).
- **Standard** (raw deployment, KServe >= 0.20): ``spec.canary`` holds a named second predictor
  and its ``trafficPercent``. Predictors are named after the model version and artifact, so a
  promote (the canary's predictor becomes ``spec.predictor``) reuses the canary's Deployment.

Each mode only gets its own field (Standard ignores ``canaryTrafficPercent``; Serverless rejects
``spec.canary``). Objects are plain dicts through the ``kubernetes`` client's CustomObjectsApi.
"""

from __future__ import annotations

import contextlib
import copy
import hashlib
import json
from typing import Any, Literal

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.backends import Progress
from jupyter_mlplat.deploy.models import Deployment, Revision
from jupyter_mlplat.errors import Conflict, InvalidInput, MLPlatError, Unavailable
from jupyter_mlplat.infra import kube
from jupyter_mlplat.infra.kube import MANAGED_BY, user_label

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
KIND = "InferenceService"
INFERENCE_SERVICE = kube.Kind(GROUP, VERSION, KIND, PLURAL, installed_by="KServe")
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
OWNER = "mlplat.io/owner"
MODEL_ANNOTATIONS = ("mlplat.io/model-name", "mlplat.io/model-version", "mlplat.io/model-uri")
CANARY_ANNOTATIONS = ("mlplat.io/canary-name", "mlplat.io/canary-version", "mlplat.io/canary-uri")
#: Where KServe keeps its ``inferenceservice-config`` ConfigMap.
KSERVE_NAMESPACE = "kserve"
KSERVE_CONFIG = "inferenceservice-config"
#: Storage the KServe storage initializer can read (a local file is on the wrong machine).
STORAGE_SCHEMES = ("s3://", "gs://", "azure://", "https://", "http://", "hdfs://", "webhdfs://",
                   "pvc://", "oci://", "hf://")  # fmt: skip
#: Values of the mode annotation, and the values KServe versions use in its config.
MODE_VALUES = {"serverless": "Serverless", "standard": "Standard"}
CONFIG_MODES = {"serverless": "serverless", "knative": "serverless",
                "rawdeployment": "standard", "standard": "standard"}  # fmt: skip
#: Signs that a rollout will not become ready by waiting longer.
FAILED_TRANSITIONS = {"BlockedByFailedLoad", "InvalidSpec"}
FAILED_REASONS = {"RevisionFailed", "ProgressDeadlineExceeded", "InvalidSpec", "ModelLoadFailed"}

Mode = Literal["serverless", "standard"]


class KServeBackend:
    """``deploy_target = kserve``: InferenceServices in the user's namespace."""

    name = "kserve"
    #: Longest quiet spell (seconds) between progress reports while a rollout is watched.
    progress_interval = 2.0

    def __init__(self, config: MLPlat, api_client: Any = None) -> None:
        self.config = config
        self.namespace = config.namespace
        self._api_client = api_client
        self._client: Any = None
        self._api: Any = None
        self._mode: Mode | None = None

    # -- the protocol -------------------------------------------------------------------------
    def apply(
        self, deployment: Deployment, previous: Deployment | None, progress: Progress
    ) -> Deployment:
        """Create or update the InferenceService, wait until ready; undo everything on failure."""
        for revision in (deployment.stable, deployment.canary):
            if revision is not None:
                check_storage_uri(revision)
        name = deployment.name
        progress(f"reading InferenceService {self.namespace}/{name}", 0.05)
        before = self._read(name)
        if before is not None:
            self._check_ours(before, deployment.owner)
        mode = mode_of(before) or self.mode()
        manifest = build_manifest(deployment, previous, mode, self.config)
        if before is None:
            progress(f"creating InferenceService {name} ({mode} mode)", 0.1)
            applied = self._create(manifest)
        else:
            progress(f"updating InferenceService {name} ({mode} mode)", 0.1)
            applied = self._replace(merged_for_replace(before, manifest))
        try:
            current = self._wait_ready(applied, progress)
        except BaseException as err:
            self._undo(name, before)
            if isinstance(err, MLPlatError):
                undone = "restored the previous version" if before else "removed it"
                raise type(err)(f"{err}; {undone}") from None
            raise
        progress("ready", 1.0)
        return self._fill(deployment, current, mode)

    def status(self, deployment: Deployment) -> Deployment:
        """The record refreshed from the InferenceService's status."""
        found = self._read(deployment.name)
        if found is None:
            deployment.state = "failed"
            deployment.message = f"InferenceService {self.namespace}/{deployment.name} is gone"
            return deployment
        state, message = readiness(found)
        mode = mode_of(found) or self._mode or "serverless"
        self._fill(deployment, found, mode)
        deployment.state = (
            "ready" if state == "ready" else "failed" if state == "failed" else ("deploying")
        )
        deployment.message = message if state != "ready" else deployment.message
        return deployment

    def delete(self, deployment: Deployment) -> None:
        """Delete the InferenceService (only ours: the one read, by uid); idempotent."""
        found = self._read(deployment.name)
        if found is None:
            return
        self._check_ours(found, deployment.owner)
        self._delete(found)

    def restore(self, deployments: list[Deployment]) -> list[Deployment]:
        """InferenceServices outlive the Jupyter server: re-read their status."""
        restored = []
        for deployment in deployments:
            try:
                restored.append(self.status(deployment))
            except MLPlatError as err:
                deployment.message = f"cannot read its status: {err}"
                restored.append(deployment)
        return restored

    # -- mode ---------------------------------------------------------------------------------
    def mode(self) -> Mode:
        """The configured mode, or (``auto``) the cluster's default, detected once."""
        if self.config.kserve_mode != "auto":
            return self.config.kserve_mode
        if self._mode is None:
            self._mode = self._detect_mode()
        return self._mode

    def _detect_mode(self) -> Mode:
        """KServe's ``deploy.defaultDeploymentMode`` if readable, else whether Knative serves."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            config_map = client.CoreV1Api(self.api_client).read_namespaced_config_map(
                KSERVE_CONFIG, KSERVE_NAMESPACE
            )
            deploy = json.loads((config_map.data or {}).get("deploy") or "{}")
            mode = CONFIG_MODES.get(str(deploy.get("defaultDeploymentMode", "")).lower())
            if mode:
                return mode  # type: ignore[return-value]
        except (ApiException, ValueError, AttributeError):
            pass  # not readable (RBAC), absent or malformed: ask discovery instead
        with kube.translated("discover Knative Serving"):
            try:
                client.CustomObjectsApi(self.api_client).get_api_resources(
                    "serving.knative.dev", "v1"
                )
            except ApiException as err:
                if err.status == 404:
                    return "standard"
                raise
        return "serverless"

    # -- the Kubernetes API -------------------------------------------------------------------
    @property
    def api_client(self) -> Any:
        """The raw ``ApiClient`` (in-cluster or kubeconfig unless one was given)."""
        if self._api_client is None:
            self._api_client = kube.default_api_client()
        return self._api_client

    @property
    def client(self) -> Any:
        """The ``DynamicClient`` over :attr:`api_client`."""
        if self._client is None:
            self._client = kube.dynamic_client(self.api_client)
        return self._client

    @property
    def api(self) -> Any:
        """The InferenceService resource API (discovered on first use)."""
        if self._api is None:
            self._api = kube.resource_api(self.client, INFERENCE_SERVICE, self.namespace)
        return self._api

    def _translated(self, verb: str, name: str) -> Any:
        return kube.translated(
            f"{verb} InferenceService {self.namespace}/{name}", INFERENCE_SERVICE, self.namespace
        )

    def _read(self, name: str) -> dict[str, Any] | None:
        from kubernetes.client.exceptions import ApiException

        with self._translated("get", name):
            try:
                return dict(self.api.get(name=name, namespace=self.namespace).to_dict())
            except ApiException as err:
                if err.status == 404:
                    return None
                raise

    def _create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        name = manifest["metadata"]["name"]
        try:
            with self._translated("create", name):
                return dict(self.api.create(body=manifest, namespace=self.namespace).to_dict())
        except Conflict as err:
            if isinstance(err.__cause__, ApiException) and err.__cause__.status == 409:
                raise Conflict(
                    f"an InferenceService named {name} already exists in {self.namespace} "
                    "and is not managed by jupyter-mlplat"
                ) from None
            raise

    def _replace(self, manifest: dict[str, Any]) -> dict[str, Any]:
        name = manifest["metadata"]["name"]
        try:
            with self._translated("update", name):
                return dict(
                    self.api.replace(body=manifest, name=name, namespace=self.namespace).to_dict()
                )
        except Conflict:
            raise Conflict(
                f"InferenceService {self.namespace}/{name} changed while it was being updated; "
                "try again"
            ) from None

    def _delete(self, found: dict[str, Any]) -> None:
        """Delete exactly ``found`` (by uid: never a namesake created meanwhile)."""
        from kubernetes.client.exceptions import ApiException

        name = found["metadata"]["name"]
        with self._translated("delete", name):
            try:
                self.api.delete(
                    name=name,
                    namespace=self.namespace,
                    body={"preconditions": {"uid": found["metadata"]["uid"]}},
                )
            except ApiException as err:
                if err.status != 404:
                    raise

    def _undo(self, name: str, before: dict[str, Any] | None) -> None:
        """Return the object to what it was before ``apply`` (or remove it); best effort."""
        with contextlib.suppress(MLPlatError):
            current = self._read(name)
            if current is None:
                return
            if before is None:
                self._delete(current)
                return
            restored = copy.deepcopy(before)
            restored["metadata"] = {
                **current["metadata"],
                "labels": before["metadata"].get("labels") or {},
                "annotations": before["metadata"].get("annotations") or {},
            }
            restored.pop("status", None)
            with self._translated("update", name):
                self.api.replace(body=restored, name=name, namespace=self.namespace)

    def _wait_ready(self, applied: dict[str, Any], progress: Progress) -> dict[str, Any]:
        """Watch the status until it reports this generation ready, failed, or time runs out."""
        name = applied["metadata"]["name"]
        budget = float(self.config.deploy_ready_timeout)
        last = {"message": ""}

        def check(found: dict[str, Any] | None) -> dict[str, Any] | None:
            if found is None:
                raise Unavailable(f"InferenceService {self.namespace}/{name} was deleted")
            state, last["message"] = readiness(found)
            if state == "failed":
                raise Unavailable(
                    f"InferenceService {self.namespace}/{name} failed: {last['message']}"
                )
            return found if state == "ready" else None

        def wait(found: dict[str, Any] | None, waited: float) -> None:
            progress(
                f"waiting for {name} to become ready: {last['message']}",
                0.2 + 0.7 * waited / budget,
            )

        ready = kube.watch_until(
            self.client,
            self.api,
            namespace=self.namespace,
            name=name,
            current=applied,
            check=check,
            read=lambda: self._read(name),
            timeout=budget,
            on_wait=wait,
            interval=self.progress_interval,
            action=f"watch InferenceService {self.namespace}/{name}",
        )
        if ready is None:
            raise Unavailable(
                f"InferenceService {self.namespace}/{name} not ready after {budget:.0f} s "
                f"({last['message']})"
            )
        return ready

    def _check_ours(self, found: dict[str, Any], owner: str) -> None:
        metadata = found.get("metadata") or {}
        labels = metadata.get("labels") or {}
        name = metadata.get("name", "?")
        if not kube.is_managed(found):
            raise Conflict(
                f"an InferenceService named {name} already exists in {self.namespace} "
                "and is not managed by jupyter-mlplat"
            )
        if labels.get(OWNER) != user_label(owner):
            raise Conflict(f"InferenceService {self.namespace}/{name} belongs to another user")

    def _fill(self, deployment: Deployment, found: dict[str, Any], mode: Mode) -> Deployment:
        status = found.get("status") or {}
        predictor = (status.get("components") or {}).get("predictor") or {}
        address = (status.get("address") or {}).get("url", "")
        deployment.state = "ready"
        deployment.endpoint = status.get("url") or address
        deployment.details = {
            "mode": mode,
            "namespace": self.namespace,
            "inference_service": found["metadata"]["name"],
            "url": status.get("url", ""),
            "address": address,
            "traffic": predictor.get("traffic") or [],
            "latest_ready_revision": predictor.get("latestReadyRevision", ""),
            "canary_statuses": status.get("canaryStatuses") or [],
        }
        deployment.message = ""
        return deployment


# -- pure helpers ------------------------------------------------------------------------------
def check_storage_uri(revision: Revision) -> str:
    """The revision's storage URI if KServe's storage initializer can load it."""
    uri = revision.model.storage_uri
    if not uri.startswith(STORAGE_SCHEMES):
        raise InvalidInput(
            f"KServe cannot load {revision.model.uri} from {uri or '(no storage URI)'}: the "
            "MLflow server's artifacts must be in object storage (s3://, gs://, azure://...) "
            "that the serving service account can read"
        )
    return uri


def revision_name(revision: Revision) -> str:
    """A predictor name for Standard mode: the version plus a digest of where the model is."""
    digest = hashlib.sha256(revision.model.storage_uri.encode()).hexdigest()[:6]
    return f"v{revision.model.version}-{digest}"


def predictor_spec(revision: Revision, config: MLPlat) -> dict[str, Any]:
    """A predictor that serves one MLflow model over V2 with the serving service account."""
    return {
        "serviceAccountName": config.kserve_service_account,
        "model": {
            # KServe's own name for the model container; the schema requires one in a canary
            "name": "kserve-container",
            "modelFormat": {"name": "mlflow"},
            "protocolVersion": "v2",
            "storageUri": check_storage_uri(revision),
        },
    }


def build_manifest(
    deployment: Deployment, previous: Deployment | None, mode: Mode, config: MLPlat
) -> dict[str, Any]:
    """The InferenceService that makes KServe serve ``deployment`` (stable + optional canary).

    ``previous`` is what served before: in Serverless mode, dropping a canary whose stable
    version stays becomes ``canaryTrafficPercent: 0`` (an instant return of all traffic).
    """
    stable, canary = deployment.stable, deployment.canary
    if mode == "standard":
        predictor = {"name": revision_name(stable), **predictor_spec(stable, config)}
        spec: dict[str, Any] = {"predictor": predictor}
        if canary is not None:
            canary_predictor = {"name": revision_name(canary), **predictor_spec(canary, config)}
            if canary_predictor["name"] == predictor["name"]:
                canary_predictor["name"] += "-canary"
            spec["canary"] = [{"predictor": canary_predictor, "trafficPercent": canary.traffic}]
    else:
        if canary is not None:
            predictor = predictor_spec(canary, config)
            predictor["canaryTrafficPercent"] = canary.traffic
        elif is_canary_rollback(deployment, previous):
            assert previous is not None and previous.canary is not None
            predictor = predictor_spec(previous.canary, config)
            predictor["canaryTrafficPercent"] = 0
        else:
            predictor = predictor_spec(stable, config)
        spec = {"predictor": predictor}

    annotations = {
        MODE_ANNOTATION: MODE_VALUES[mode],
        OWNER: deployment.owner,
        **dict(zip(MODEL_ANNOTATIONS, _model_values(stable), strict=True)),
    }
    if canary is not None:
        annotations |= dict(zip(CANARY_ANNOTATIONS, _model_values(canary), strict=True))
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": deployment.name,
            "namespace": config.namespace,
            "labels": {**MANAGED_BY, OWNER: user_label(deployment.owner)},
            "annotations": annotations,
        },
        "spec": spec,
    }


def is_canary_rollback(deployment: Deployment, previous: Deployment | None) -> bool:
    """Whether ``deployment`` drops the canary of ``previous`` and keeps its stable version."""
    return (
        previous is not None
        and previous.canary is not None
        and deployment.canary is None
        and deployment.stable.model.storage_uri == previous.stable.model.storage_uri
    )


def merged_for_replace(current: dict[str, Any], manifest: dict[str, Any]) -> dict[str, Any]:
    """``manifest`` as a full replacement of ``current``: other tools' labels and annotations
    stay (ours are rewritten), the spec is entirely ours, the resourceVersion guards the race."""
    ours = set(MODEL_ANNOTATIONS) | set(CANARY_ANNOTATIONS)
    metadata = current.get("metadata") or {}
    kept = {k: v for k, v in (metadata.get("annotations") or {}).items() if k not in ours}
    return {
        **manifest,
        "metadata": {
            **manifest["metadata"],
            "resourceVersion": metadata.get("resourceVersion"),
            "labels": {**(metadata.get("labels") or {}), **manifest["metadata"]["labels"]},
            "annotations": {**kept, **manifest["metadata"]["annotations"]},
        },
    }


def mode_of(found: dict[str, Any] | None) -> Mode | None:
    """The mode an existing InferenceService was created in (its annotation), if any."""
    if found is None:
        return None
    value = ((found.get("metadata") or {}).get("annotations") or {}).get(MODE_ANNOTATION, "")
    return CONFIG_MODES.get(str(value).lower())  # type: ignore[return-value]


def readiness(found: dict[str, Any]) -> tuple[str, str]:
    """``("ready" | "failed" | "waiting", message)`` of an InferenceService's status.

    Only a status that has observed the current generation counts (right after an update the
    status still describes the previous spec).
    """
    metadata, status = found.get("metadata") or {}, found.get("status") or {}
    generation = metadata.get("generation")
    observed = status.get("observedGeneration")
    if generation is not None and (observed is None or observed < generation):
        return "waiting", "the KServe controller has not seen this version yet"
    conditions = {c.get("type"): c for c in status.get("conditions") or []}
    ready = conditions.get("Ready") or {}
    failure = _failure(status, conditions)
    if failure:
        return "failed", failure
    for canary in status.get("canaryStatuses") or []:
        if not canary.get("ready"):
            return "waiting", f"canary {canary.get('name', '?')} is not ready"
    if ready.get("status") == "True":
        return "ready", ""
    detail = ready.get("message") or ready.get("reason") or "no Ready condition yet"
    return "waiting", " ".join(str(detail).split())


def _failure(status: dict[str, Any], conditions: dict[str, Any]) -> str:
    model = status.get("modelStatus") or {}
    if model.get("transitionStatus") in FAILED_TRANSITIONS:
        info = model.get("lastFailureInfo") or {}
        return " ".join(
            str(info.get("message") or info.get("reason") or model["transitionStatus"]).split()
        )
    for condition in conditions.values():
        if condition.get("status") == "False" and condition.get("reason") in FAILED_REASONS:
            text = condition.get("message") or condition["reason"]
            return " ".join(str(text).split())
    return ""


def _model_values(revision: Revision) -> tuple[str, str, str]:
    return revision.model.name, revision.model.version, revision.model.uri
