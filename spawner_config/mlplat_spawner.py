"""KubeSpawner configuration for jupyter-mlplat: profiles, per-user environment, namespace,
service accounts and RBAC. Used by ``jupyterhub_config.py`` and by z2jh's ``hub.extraConfig``::

    import mlplat_spawner
    mlplat_spawner.configure(c, image="registry.example.com/mlplat/notebook:0.1.0")

Team-wide platform settings are the ``MLPlat`` traits themselves (``c.MLPlat.tracking_uri = ...``
in the hub's config, or ``MLP_*`` in the hub's environment); every user's server gets them, plus
its user name and namespace, as ``MLP_*`` variables rendered by ``MLPlat.to_environment``.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.hub.environment import (
    all_variables,
    environment_callables,
    is_storage_secret,
    user_environment,
    user_settings,
)
from jupyter_mlplat.hub.identity import prepare_tracking_identity
from jupyter_mlplat.infra.kube import MANAGED_BY, owner_labels
from jupyter_mlplat.tracking.auth import (
    credential_references,
    credential_secret,
    is_credential_reference,
)

log = logging.getLogger("mlplat_spawner")

DEFAULT_IMAGE = "ghcr.io/jupyter-mlplat/notebook:0.1.0"
#: Namespace of each user's server and resources (KubeSpawner's safe slug of the user name).
NAMESPACE_TEMPLATE = "mlplat-{username}"
NOTEBOOK_SERVICE_ACCOUNT = "mlplat-notebook"
#: On every user namespace: the Spark Operator watches these (``cluster/spark-operator-values``)
#: and the admission policy guarding the serving identity applies there (``cluster/``).
USER_NAMESPACE_LABEL = {"mlplat.io/user-namespace": "true"}
#: Kubernetes' built-in Pod Security admission (no webhook) refuses privileged pods, host
#: namespaces, host paths and added capabilities in user namespaces, whoever creates them (the
#: ``spark`` account's executors, the Job controller's tuning pods, KServe's predictors).
POD_SECURITY_LABELS = {
    "pod-security.kubernetes.io/enforce": "baseline",
    "pod-security.kubernetes.io/warn": "restricted",
}
#: z2jh's hub NetworkPolicy admits pods with this label (from other namespaces too, with
#: ``hub.networkPolicy.interNamespaceAccessLabels: accept``).
HUB_ACCESS_LABEL = {"hub.jupyter.org/network-access-hub": "true"}
#: The ClusterRole each per-user service account is bound to (RoleBinding in its namespace);
#: mlplat-tracking-credential reads the user's MLflow credential Secret, and no other.
USER_CLUSTER_ROLES = {
    "mlplat-notebook": NOTEBOOK_SERVICE_ACCOUNT,
    "mlplat-spark": "spark",
    "mlplat-tracking-credential": NOTEBOOK_SERVICE_ACCOUNT,
}
SERVICE_ACCOUNT_NAMESPACE = Path("/var/run/secrets/kubernetes.io/serviceaccount/namespace")

#: Platform settings in a cluster, under the team's c.MLPlat.* / MLP_* settings. The KServe
#: mode is left to the platform: it reads the cluster's default (``rbac/kserve-config-reader``)
#: and otherwise uses KServe's own default, Standard.
CLUSTER_DEFAULTS: dict[str, Any] = {
    "tracking_uri": "http://mlflow.mlflow.svc.cluster.local:5000",
    "spark_mode": "kubernetes",
    "deploy_target": "kserve",
    "pipelines_publish": "kubernetes",
}


def profiles(image: str = DEFAULT_IMAGE, gpu_image: str = "") -> list[dict[str, Any]]:
    """The server sizes a user picks from (``KubeSpawner.profile_list``)."""
    return [
        {
            "display_name": "Small (1 CPU, 4 GB)",
            "slug": "small",
            "description": "Notebooks, MLflow tracking, Spark on the cluster.",
            "default": True,
            "kubespawner_override": {
                "image": image,
                "cpu_guarantee": 0.5,
                "cpu_limit": 1,
                "mem_guarantee": "2G",
                "mem_limit": "4G",
            },
        },
        {
            "display_name": "Large (4 CPU, 16 GB)",
            "slug": "large",
            "description": "Bigger in-memory training.",
            "kubespawner_override": {
                "image": image,
                "cpu_guarantee": 2,
                "cpu_limit": 4,
                "mem_guarantee": "8G",
                "mem_limit": "16G",
            },
        },
        {
            "display_name": "GPU (4 CPU, 32 GB, 1 NVIDIA GPU)",
            "slug": "gpu",
            "description": "Deep learning on one GPU.",
            "kubespawner_override": {
                "image": gpu_image or image,
                "cpu_guarantee": 2,
                "cpu_limit": 4,
                "mem_guarantee": "16G",
                "mem_limit": "32G",
                "extra_resource_guarantees": {"nvidia.com/gpu": "1"},
                "extra_resource_limits": {"nvidia.com/gpu": "1"},
                "node_selector": {"nvidia.com/gpu.present": "true"},
                "tolerations": [
                    {"key": "nvidia.com/gpu", "operator": "Exists", "effect": "NoSchedule"}
                ],
            },
        },
    ]


# -- per-user environment --------------------------------------------------------------------
def spawner_environment(spawner: Any) -> dict[str, str]:
    """The ``MLP_*`` variables of ``spawner``'s user: team settings + user name + namespace."""
    return user_environment(hub_side_settings(spawner))


# -- per-user Kubernetes resources -----------------------------------------------------------
def user_resources(
    namespace: str,
    username: str,
    *,
    spark_service_account: str = "spark",
    models_service_account: str = "mlplat-models",
    models_annotations: Mapping[str, str] | None = None,
    models_secrets: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Namespace, service accounts and RoleBindings of one user, as plain manifests.

    The rules are the ClusterRoles of ``rbac/user-roles.yaml``; a RoleBinding grants them in
    this namespace only, and the hub may create it because it holds ``bind`` on those names.
    """
    labels = owner_labels(username)
    meta = {"namespace": namespace, "labels": labels}
    resources: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": {**labels, **USER_NAMESPACE_LABEL, **POD_SECURITY_LABELS},
                "annotations": {"jupyter-mlplat/user": username},
            },
        },
        _service_account(NOTEBOOK_SERVICE_ACCOUNT, meta),
        _service_account(spark_service_account, meta),
        {
            "apiVersion": "v1",
            "kind": "ServiceAccount",
            "metadata": {
                "name": models_service_account,
                **meta,
                "annotations": dict(models_annotations or {}),
            },
            **({"secrets": [{"name": s} for s in models_secrets]} if models_secrets else {}),
        },
    ]  # fmt: skip
    bound = {**USER_CLUSTER_ROLES, "mlplat-spark": spark_service_account}
    for role, account in bound.items():
        resources.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": role, **meta},
                "roleRef": {
                    "apiGroup": "rbac.authorization.k8s.io",
                    "kind": "ClusterRole",
                    "name": role,
                },
                "subjects": [{"kind": "ServiceAccount", "name": account, "namespace": namespace}],
            }
        )
    return resources


async def apply_resources(api_client: Any, resources: list[dict[str, Any]]) -> None:
    """Create each manifest, or bring it up to date when it exists. An existing namespace must
    carry :data:`USER_NAMESPACE_LABEL` (the hub may not relabel namespaces): else nothing
    is created in it, since the admission policy would not guard it."""
    from kubernetes_asyncio import client
    from kubernetes_asyncio.client.exceptions import ApiException

    core: Any = client.CoreV1Api(api_client)  # plain dicts as bodies
    rbac: Any = client.RbacAuthorizationV1Api(api_client)
    create_or_patch = {
        "ServiceAccount": (
            core.create_namespaced_service_account,
            core.patch_namespaced_service_account,
        ),
        "Secret": (core.create_namespaced_secret, core.patch_namespaced_secret),
    }
    for body in resources:
        kind, name = body["kind"], body["metadata"]["name"]
        namespace = body["metadata"].get("namespace")
        if kind == "Namespace":
            try:
                await core.create_namespace(body)
            except ApiException as err:
                if err.status != 409:
                    raise
                await _check_user_namespace(core, name)
        elif kind in create_or_patch:  # the hub may patch only the credential Secret's name
            create, patch = create_or_patch[kind]
            try:
                await create(namespace, body)
            except ApiException as err:
                if err.status != 409:
                    raise
                await patch(name, namespace, body)
        elif kind == "RoleBinding":
            try:
                await rbac.create_namespaced_role_binding(namespace, body)
            except ApiException as err:
                if err.status != 409:
                    raise
                existing = await rbac.read_namespaced_role_binding(name, namespace)
                if existing.role_ref.kind != body["roleRef"]["kind"]:
                    raise RuntimeError(
                        f"RoleBinding {namespace}/{name} refers to a {existing.role_ref.kind} "
                        "(an older jupyter-mlplat): delete it and the Roles "
                        f"(kubectl -n {namespace} delete rolebinding,role {name})"
                    ) from err
                await rbac.replace_namespaced_role_binding(name, namespace, body)
        else:
            raise ValueError(f"unexpected kind {kind}")  # fmt: skip


async def _check_user_namespace(core: Any, name: str) -> None:
    namespace = await core.read_namespace(name)
    labels = namespace.metadata.labels or {}
    if any(labels.get(key) != value for key, value in USER_NAMESPACE_LABEL.items()):
        ((key, value),) = USER_NAMESPACE_LABEL.items()
        raise RuntimeError(
            f"namespace {name} exists without the label {key}={value}: ask the cluster's admin "
            f"to run `kubectl label namespace {name} {key}={value}`"
        )


def _models_service_account(spawner: Any) -> dict[str, Any]:
    section = spawner.config.get("MLPlatSpawner", {})
    return {
        "models_annotations": dict(section.get("models_annotations", {})),
        "models_secrets": list(section.get("models_secrets", [])),
    }


def hub_side_settings(spawner: Any) -> MLPlat:
    """The platform settings of ``spawner``'s user, as the hub sees them."""
    return user_settings(
        spawner.user.name,
        hub_config=spawner.config,
        hub_env=os.environ,
        defaults=CLUSTER_DEFAULTS,
        per_user={"namespace": spawner.namespace},
    )


async def tracking_identity(spawner: Any, settings: MLPlat | None = None) -> list[dict[str, Any]]:
    """With ``c.MLPlat.tracking_auth``: the user's MLflow user (and team roles), and its
    credential (only that one) for the user's pods: the manifest of the Secret holding it in the
    user's namespace (returned, for the caller to apply), which the pod's environment references.
    The admin's stays in the hub: the Secret mounted at ``c.MLPlat.tracking_admin_dir``."""
    settings = settings or hub_side_settings(spawner)
    if not settings.tracking_auth:
        return []
    admin_dir = settings.resolved_tracking_admin_dir
    password = await prepare_tracking_identity(spawner, settings.tracking_uri, admin_dir)
    user = spawner.user.name
    # by reference: the value is in the Secret, not in the pod spec anyone reading pods sees
    references = {ref["name"]: {"valueFrom": ref["valueFrom"]} for ref in credential_references()}
    spawner.environment = {**spawner.environment, **references}
    return [credential_secret(spawner.namespace, user, password, owner_labels(user))]


async def pre_spawn_hook(spawner: Any) -> None:
    """Make sure the user's namespace, service accounts and RoleBindings exist, and (with
    tracking auth) the user's MLflow identity."""
    settings = hub_side_settings(spawner)
    resources = user_resources(
        spawner.namespace,
        spawner.user.name,
        spark_service_account=settings.spark_service_account,
        models_service_account=settings.kserve_service_account,
        **_models_service_account(spawner),
    )
    await apply_resources(spawner.api.api_client, resources)
    await apply_resources(spawner.api.api_client, await tracking_identity(spawner, settings))


def modify_pod_hook(spawner: Any, pod: Any) -> Any:
    """Last line of defence: no storage credential reaches a user pod, whatever the profile or
    the hub's environment says (no secret-backed variables but the user's MLflow credential
    from its own Secret, no ``envFrom`` secrets)."""
    for container in [*(pod.spec.containers or []), *(pod.spec.init_containers or [])]:
        kept = []
        for var in container.env or []:
            value_from = _field(var, "value_from", "valueFrom")
            ref = _field(value_from, "secret_key_ref", "secretKeyRef")
            name = _field(var, "name", "name")
            if ref is not None and is_credential_reference(name, _field(ref, "name", "name")):
                kept.append(var)
                continue
            if is_storage_secret(name) or ref is not None:
                log.warning("mlplat: dropped %s from %s's pod", var, spawner.user.name)
                continue
            kept.append(var)
        container.env = kept
        if container.env_from:
            container.env_from = [
                e for e in container.env_from if _field(e, "secret_ref", "secretRef") is None
            ]
    return pod


# -- everything together ---------------------------------------------------------------------
def hub_connect_url(
    env: Mapping[str, str],
    *,
    service: str = "hub",
    cluster_domain: str = "cluster.local",
    namespace_file: Path = SERVICE_ACCOUNT_NAMESPACE,
) -> str:
    """The hub's URL for pods in any namespace: ``http://hub.<ns>.svc.<domain>:<port>``.

    The hub's namespace is ``POD_NAMESPACE`` (z2jh sets it from the downward API) or the
    service account's; the port is what Kubernetes publishes for the hub's Service.
    """
    namespace = env.get("POD_NAMESPACE", "")
    if not namespace and namespace_file.exists():
        namespace = namespace_file.read_text().strip()
    if not namespace:
        log.warning("mlplat: the hub's namespace is unknown (no POD_NAMESPACE): using default")
        namespace = "default"
    prefix = service.upper().replace("-", "_")
    port = env.get(f"{prefix}_SERVICE_PORT", "8081")
    return f"http://{service}.{namespace}.svc.{cluster_domain}:{port}"


def configure(
    c: Any,
    *,
    image: str = DEFAULT_IMAGE,
    gpu_image: str = "",
    namespace_template: str = NAMESPACE_TEMPLATE,
    hub_service: str = "hub",
) -> None:
    """Set KubeSpawner up for jupyter-mlplat on the hub's config ``c``."""
    # user servers live in other namespaces: the hub's short Service name does not resolve there
    c.JupyterHub.hub_connect_url = hub_connect_url(os.environ, service=hub_service)
    spawner = c.KubeSpawner
    if "image" not in spawner:  # z2jh sets it from singleuser.image
        spawner.image = image
    if "profile_list" not in spawner:  # z2jh sets it from singleuser.profileList
        spawner.profile_list = profiles(image, gpu_image)
    spawner.cmd = ["jupyterhub-singleuser"]
    spawner.default_url = "/lab"
    spawner.enable_user_namespaces = True
    spawner.user_namespace_template = namespace_template
    spawner.user_namespace_labels = {**MANAGED_BY, **USER_NAMESPACE_LABEL, **POD_SECURITY_LABELS}
    spawner.service_account = NOTEBOOK_SERVICE_ACCOUNT
    # the notebook talks to the API server (its Spark session, its InferenceServices)
    spawner.automount_service_account_token = True
    spawner.env_keep = []  # nothing from the hub's own environment
    # merged into what is there (z2jh's singleuser.extraEnv), the platform's settings win
    spawner.environment.update(environment_callables(spawner_environment, all_variables()))
    spawner.pre_spawn_hook = pre_spawn_hook
    spawner.modify_pod_hook = modify_pod_hook
    # merged into the admin's labels (z2jh's singleuser.extraLabels); the hub's NetworkPolicy
    # admits the pod by HUB_ACCESS_LABEL
    spawner.extra_labels.update({**MANAGED_BY, **HUB_ACCESS_LABEL})


def _service_account(name: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, **meta}}


def _field(obj: Any, attribute: str, key: str) -> Any:
    """A field of a Kubernetes model object or of the plain dict a config left in its place."""
    if isinstance(obj, dict):
        return obj.get(key, obj.get(attribute))
    return getattr(obj, attribute, None)
