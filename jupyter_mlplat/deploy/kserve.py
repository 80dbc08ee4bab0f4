"""The KServe target: one ``serving.kserve.io/v1beta1`` InferenceService per deployment.

The predictor serves the MLflow model with KServe's MLflow runtime (``modelFormat: mlflow``,
V2 protocol) from the artifact store itself: the registry reference was resolved server-side
to a storage URI (KServe can read neither ``models:/`` nor MLflow's artifact proxy), and the
storage credentials belong to a service account (``MLPlat.kserve_service_account``), never to
the user.

KServe's two modes (the object's ``serving.kserve.io/deploymentMode`` annotation pins one) give
different guarantees, recorded as ``details.canary_routing``:

- **Knative** (``weighted``): the predictor gets the new storage URI and
  ``canaryTrafficPercent``; KServe keeps the last rolled-out revision as the stable one and
  Knative splits the traffic. Promote drops the percentage. Rolling back a canary sets it to 0
  (all traffic returns to the rolled-out revision at once, nothing restarts); rolling back
  after a promote redeploys the previous storage URI.
- **Standard** (``none``, KServe 0.20's default): a ``spec.canary`` entry only gets its own
  Deployment sized by ``trafficPercent``; the Ingress / HTTPRoute points at the stable
  predictor alone (``reconcilers/ingress/kube_ingress_reconciler.go``), so a canary would
  get no traffic. A canary is refused up front; deploy (replace) and rollback remain.

The predictor is never named, so its Service and host (``{name}-predictor``) stay the same
across every rollout. The platform's bookkeeping (which version serves) lives in the
deployment records of the deploy service, not on the object: KServe copies an
InferenceService's labels and annotations into the pod template (``components/predictor.go``
``buildObjectMeta``), so anything that changed per rollout would restart the pods.
"""

from __future__ import annotations

import contextlib
import copy
import json
from typing import Any, Literal

from jupyter_mlplat.config import KSERVE_MODES, MLPlat
from jupyter_mlplat.deploy.backends import DeployBackend, Progress
from jupyter_mlplat.deploy.models import Deployment, Revision
from jupyter_mlplat.errors import Conflict, InvalidInput, MLPlatError, Unavailable
from jupyter_mlplat.infra import kube
from jupyter_mlplat.infra.kube import MANAGED_BY, user_label

GROUP, VERSION, PLURAL = "serving.kserve.io", "v1beta1", "inferenceservices"
KIND = "InferenceService"
INFERENCE_SERVICE = kube.Kind(GROUP, VERSION, KIND, PLURAL, installed_by="KServe")
MODE_ANNOTATION = "serving.kserve.io/deploymentMode"
OWNER = "mlplat.io/owner"
#: Per-version annotations of releases before 0.2; removed on the next rollout.
LEGACY_ANNOTATIONS = tuple(
    f"mlplat.io/{role}-{field}"
    for role in ("model", "canary")
    for field in ("name", "version", "uri")
)
#: Where KServe keeps its ``inferenceservice-config`` ConfigMap.
KSERVE_NAMESPACE = "kserve"
KSERVE_CONFIG = "inferenceservice-config"
#: Storage the KServe storage initializer can read (a local file is on the wrong machine).
STORAGE_SCHEMES = ("s3://", "gs://", "azure://", "https://", "http://", "hdfs://", "webhdfs://",
                   "pvc://", "oci://", "hf://")  # fmt: skip
Mode = Literal["Knative", "Standard"]
#: KServe's own default mode (``pkg/constants/constants.go`` ``DefaultDeployment``, v0.20).
DEFAULT_MODE: Mode = "Standard"
#: Where each mode sends a canary's share of the traffic (what ``canary_routing`` reports).
CANARY_ROUTING = {"Knative": "weighted", "Standard": "none"}
#: Service names KServe derives: ``{name}-predictor`` (``constants.PredictorServiceName``).
PREDICTOR_SUFFIX = "-predictor"
#: Signs that a rollout will not become ready by waiting longer.
FAILED_TRANSITIONS = {"BlockedByFailedLoad", "InvalidSpec"}
FAILED_REASONS = {"RevisionFailed", "ProgressDeadlineExceeded", "InvalidSpec", "ModelLoadFailed"}


class KServeBackend(DeployBackend):
    """``deploy_target = kserve``: InferenceServices in the user's namespace."""

    name = "kserve"
    #: Longest quiet spell (seconds) between progress reports while a rollout is watched.
    progress_interval = 2.0

    def __init__(self, config: MLPlat, api_client: Any = None) -> None:
        self.config = config
        self.namespace = config.namespace
        self.objects = kube.Objects(INFERENCE_SERVICE, config.namespace, api_client=api_client)
        self._mode: Mode | None = None

    # -- the protocol -------------------------------------------------------------------------
    def apply(
        self, deployment: Deployment, previous: Deployment | None, progress: Progress
    ) -> Deployment:
        """Create or update the InferenceService, wait until ready; undo everything on failure."""
        name = deployment.name
        progress(f"reading InferenceService {self.namespace}/{name}", 0.05)
        before = self._read(name)
        if before is not None:
            self._check_ours(before, deployment.owner)
        mode = mode_of(before) or self.mode()
        check_deployment(deployment, mode)
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

    def check(self, deployment: Deployment) -> None:
        """Refuse up front, in one line, what this cluster's KServe would reject or ignore
        (before the service records anything)."""
        check_name_fits(deployment.name)
        found = self._read(deployment.name)
        if found is not None:
            self._check_ours(found, deployment.owner)
        check_deployment(deployment, mode_of(found) or self.mode())

    def status(self, deployment: Deployment) -> Deployment:
        """The record refreshed from the InferenceService's status."""
        found = self._read(deployment.name)
        if found is None:
            deployment.state = "failed"
            deployment.message = f"InferenceService {self.namespace}/{deployment.name} is gone"
            return deployment
        state, message = readiness(found)
        mode = mode_of(found) or self.mode()
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
        self.objects.delete(found)

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
        configured = mode_value(self.config.kserve_mode)
        if configured is not None:
            return configured
        if self._mode is None:
            self._mode = self._detect_mode()
        return self._mode

    def _detect_mode(self) -> Mode:
        """KServe's ``deploy.defaultDeploymentMode`` if readable, else KServe's own default
        (Standard): a notebook's service account usually may not read KServe's namespace."""
        from kubernetes import client
        from kubernetes.client.exceptions import ApiException

        try:
            config_map = client.CoreV1Api(self.api_client).read_namespaced_config_map(
                KSERVE_CONFIG, KSERVE_NAMESPACE
            )
            deploy = json.loads((config_map.data or {}).get("deploy") or "{}")
        except (ApiException, ValueError, AttributeError):
            return DEFAULT_MODE  # not readable (RBAC), absent or malformed
        return mode_value(str(deploy.get("defaultDeploymentMode") or "")) or DEFAULT_MODE

    # -- the Kubernetes API -------------------------------------------------------------------
    @property
    def api_client(self) -> Any:
        """The raw ``ApiClient`` (in-cluster or kubeconfig unless one was given)."""
        return self.objects.api_client

    @property
    def client(self) -> Any:
        """The ``DynamicClient`` over :attr:`api_client`."""
        return self.objects.client

    @property
    def api(self) -> Any:
        """The InferenceService resource API (discovered on first use)."""
        return self.objects.api

    def _read(self, name: str) -> dict[str, Any] | None:
        return self.objects.get(name)

    def _create(self, manifest: dict[str, Any]) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        name = manifest["metadata"]["name"]
        try:
            with self.objects.translated("create", name):
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
            with self.objects.translated("update", name):
                return dict(
                    self.api.replace(body=manifest, name=name, namespace=self.namespace).to_dict()
                )
        except Conflict:
            raise Conflict(
                f"InferenceService {self.namespace}/{name} changed while it was being updated; "
                "try again"
            ) from None

    def _undo(self, name: str, before: dict[str, Any] | None) -> None:
        """Return the object to what it was before ``apply`` (or remove it); best effort."""
        with contextlib.suppress(MLPlatError):
            current = self._read(name)
            if current is None:
                return
            if before is None:
                self.objects.delete(current)
                return
            restored = copy.deepcopy(before)
            restored["metadata"] = {
                **current["metadata"],
                "labels": before["metadata"].get("labels") or {},
                "annotations": before["metadata"].get("annotations") or {},
            }
            restored.pop("status", None)
            with self.objects.translated("update", name):
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

        ready = self.objects.watch_until(
            name,
            current=applied,
            check=check,
            read=lambda: self._read(name),
            timeout=budget,
            on_wait=wait,
            interval=self.progress_interval,
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
            "canary_routing": CANARY_ROUTING[mode],
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


def check_name_fits(name: str) -> str:
    """A deployment name whose predictor Service name (``{name}-predictor``, a DNS-1035
    label) fits in 63 characters."""
    service = f"{name}{PREDICTOR_SUFFIX}"
    if len(service) > kube.MAX_LABEL:
        longest = kube.MAX_LABEL - len(PREDICTOR_SUFFIX)
        raise InvalidInput(
            f"deployment name {name!r} is too long for KServe: its Service {service!r} would "
            f"have {len(service)} characters (at most {kube.MAX_LABEL}); use at most {longest}"
        )
    return name


def check_deployment(deployment: Deployment, mode: Mode) -> None:
    """What ``mode`` can serve: storage KServe can load, and a canary only where it gets
    traffic (Knative)."""
    check_name_fits(deployment.name)
    for revision in (deployment.stable, deployment.canary):
        if revision is not None:
            check_storage_uri(revision)
    if deployment.canary is not None and CANARY_ROUTING[mode] != "weighted":
        raise InvalidInput(
            f"KServe's {mode} mode sends no traffic to a canary (trafficPercent only sizes its "
            "replicas; the ingress routes to the stable predictor): deploy without a canary "
            "to replace the version (rollback returns to it), or use Knative mode for a "
            "weighted canary"
        )


def predictor_spec(revision: Revision, config: MLPlat) -> dict[str, Any]:
    """A predictor that serves one MLflow model over V2 with the serving service account.

    ``model.name`` stays unset: KServe's webhook refuses it in a standard predictor
    (``inference_service_validation.go`` ``validatePredictor``)."""
    return {
        "serviceAccountName": config.kserve_service_account,
        "model": {
            "modelFormat": {"name": "mlflow"},
            "protocolVersion": "v2",
            "storageUri": check_storage_uri(revision),
        },
    }


def build_manifest(
    deployment: Deployment, previous: Deployment | None, mode: Mode, config: MLPlat
) -> dict[str, Any]:
    """The InferenceService that makes KServe serve ``deployment`` (stable + optional canary).

    ``previous`` is what served before: in Knative mode, dropping a canary whose stable
    version stays becomes ``canaryTrafficPercent: 0`` (an instant return of all traffic).
    Labels and annotations are the same for every rollout of one deployment (KServe copies
    them into the pod template: a change would restart the pods).
    """
    check_deployment(deployment, mode)
    stable, canary = deployment.stable, deployment.canary
    if canary is not None:
        predictor = predictor_spec(canary, config)
        predictor["canaryTrafficPercent"] = canary.traffic
    elif mode == "Knative" and is_canary_rollback(deployment, previous):
        assert previous is not None and previous.canary is not None
        predictor = predictor_spec(previous.canary, config)
        predictor["canaryTrafficPercent"] = 0
    else:
        predictor = predictor_spec(stable, config)
    return {
        "apiVersion": f"{GROUP}/{VERSION}",
        "kind": KIND,
        "metadata": {
            "name": deployment.name,
            "namespace": config.namespace,
            "labels": {**MANAGED_BY, OWNER: user_label(deployment.owner)},
            "annotations": {MODE_ANNOTATION: mode, OWNER: deployment.owner},
        },
        "spec": {"predictor": predictor},
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
    stay (ours are rewritten; the per-version ones older releases wrote are dropped), the spec
    is entirely ours, the resourceVersion guards the race."""
    ours = set(LEGACY_ANNOTATIONS)
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


def mode_value(value: str) -> Mode | None:
    """``Knative`` / ``Standard`` from a mode name, its deprecated aliases (``Serverless``,
    ``RawDeployment``, ``constants.ParseDeploymentMode``) or the platform's old names."""
    return KSERVE_MODES.get(value.strip().lower())  # type: ignore[return-value]


def mode_of(found: dict[str, Any] | None) -> Mode | None:
    """The mode an existing InferenceService was created in (its annotation), if any."""
    if found is None:
        return None
    value = ((found.get("metadata") or {}).get("annotations") or {}).get(MODE_ANNOTATION, "")
    return mode_value(str(value))


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
