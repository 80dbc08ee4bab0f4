"""KubeSpawner configuration for jupyter-mlplat: profiles, per-user environment, namespace,
service accounts and RBAC. Used by ``jupyterhub_config.py`` and by z2jh's ``hub.extraConfig``::

    import mlplat_spawner
    mlplat_spawner.configure(c, image="registry.example.com/mlplat/notebook:0.1.0")

Team-wide platform settings are the ``MLPlat`` traits themselves (``c.MLPlat.tracking_uri = ...``
in the hub's config, or ``MLP_*`` in the hub's environment); every user's server gets them, plus
its user name and namespace, as ``MLP_*`` variables rendered by ``MLPlat.to_environment``.
"""

from __future__ import annotations

import copy
import logging
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from jupyter_mlplat.hub.environment import (
    all_variables,
    environment_callables,
    is_storage_secret,
    user_environment,
    user_settings,
)

HERE = Path(__file__).resolve().parent
USER_ROLES = HERE / "rbac" / "user-roles.yaml"
log = logging.getLogger("mlplat_spawner")

DEFAULT_IMAGE = "ghcr.io/jupyter-mlplat/notebook:0.1.0"
#: Namespace of each user's server and resources (KubeSpawner's safe slug of the user name).
NAMESPACE_TEMPLATE = "mlplat-{username}"
NOTEBOOK_SERVICE_ACCOUNT = "mlplat-notebook"
MANAGED_BY = {"app.kubernetes.io/managed-by": "jupyter-mlplat"}

#: Platform settings in a cluster, under the team's c.MLPlat.* / MLP_* settings.
CLUSTER_DEFAULTS: dict[str, Any] = {
    "tracking_uri": "http://mlflow.mlflow.svc.cluster.local:5000",
    "spark_mode": "kubernetes",
    "deploy_target": "kserve",
    # "auto" reads KServe's config map in the kserve namespace, which users may not read
    "kserve_mode": "serverless",
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
    settings = user_settings(
        spawner.user.name,
        hub_config=spawner.config,
        hub_env=os.environ,
        defaults=CLUSTER_DEFAULTS,
        per_user={"namespace": spawner.namespace},
    )
    return user_environment(settings)


# -- per-user Kubernetes resources -----------------------------------------------------------
def user_roles() -> list[dict[str, Any]]:
    """The Roles of ``rbac/user-roles.yaml`` (without a namespace)."""
    return [doc for doc in yaml.safe_load_all(USER_ROLES.read_text()) if doc]


def user_resources(
    namespace: str,
    username: str,
    *,
    spark_service_account: str = "spark",
    models_service_account: str = "mlplat-models",
    models_annotations: Mapping[str, str] | None = None,
    models_secrets: list[str] | None = None,
) -> list[dict[str, Any]]:
    """Namespace, service accounts, Roles and RoleBindings of one user, as plain manifests."""
    labels = {**MANAGED_BY, "jupyter-mlplat/user": _label_value(username)}
    meta = {"namespace": namespace, "labels": labels}
    resources: list[dict[str, Any]] = [
        {
            "apiVersion": "v1",
            "kind": "Namespace",
            "metadata": {
                "name": namespace,
                "labels": labels,
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
    bound = {"mlplat-notebook": NOTEBOOK_SERVICE_ACCOUNT, "mlplat-spark": spark_service_account}
    for template in user_roles():
        role = copy.deepcopy(template)
        name = role["metadata"]["name"]
        role["metadata"] |= meta
        resources.append(role)
        resources.append(
            {
                "apiVersion": "rbac.authorization.k8s.io/v1",
                "kind": "RoleBinding",
                "metadata": {"name": name, **meta},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": name},
                "subjects": [
                    {"kind": "ServiceAccount", "name": bound[name], "namespace": namespace}
                ],
            }
        )
    return resources


async def apply_resources(api_client: Any, resources: list[dict[str, Any]]) -> None:
    """Create each manifest, or replace it when it exists (Roles follow the config)."""
    from kubernetes_asyncio import client
    from kubernetes_asyncio.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    rbac = client.RbacAuthorizationV1Api(api_client)
    for body in resources:
        kind, name = body["kind"], body["metadata"]["name"]
        namespace = body["metadata"].get("namespace")
        if kind == "Namespace":
            create, replace = core.create_namespace, None
        elif kind == "ServiceAccount":
            create, replace = (
                core.create_namespaced_service_account,
                core.patch_namespaced_service_account,
            )
        elif kind == "Role":
            create, replace = rbac.create_namespaced_role, rbac.replace_namespaced_role
        elif kind == "RoleBinding":
            create, replace = (
                rbac.create_namespaced_role_binding,
                rbac.replace_namespaced_role_binding,
            )
        else:
            raise ValueError(f"unexpected kind {kind}")  # fmt: skip
        try:
            await (create(body) if namespace is None else create(namespace, body))
        except ApiException as err:
            if err.status != 409:
                raise
            if replace is not None:
                await replace(name, namespace, body)


def _models_service_account(spawner: Any) -> dict[str, Any]:
    section = spawner.config.get("MLPlatSpawner", {})
    return {
        "models_annotations": dict(section.get("models_annotations", {})),
        "models_secrets": list(section.get("models_secrets", [])),
    }


async def pre_spawn_hook(spawner: Any) -> None:
    """Make sure the user's namespace, service accounts, Roles and RoleBindings exist."""
    settings = user_settings(
        spawner.user.name,
        hub_config=spawner.config,
        hub_env=os.environ,
        defaults=CLUSTER_DEFAULTS,
        per_user={"namespace": spawner.namespace},
    )
    resources = user_resources(
        spawner.namespace,
        spawner.user.name,
        spark_service_account=settings.spark_service_account,
        models_service_account=settings.kserve_service_account,
        **_models_service_account(spawner),
    )
    await apply_resources(spawner.api.api_client, resources)


def modify_pod_hook(spawner: Any, pod: Any) -> Any:
    """Last line of defence: no storage credential reaches a user pod, whatever the profile or
    the hub's environment says (no secret-backed variables, no ``envFrom`` secrets)."""
    for container in [*(pod.spec.containers or []), *(pod.spec.init_containers or [])]:
        kept = []
        for var in container.env or []:
            value_from = _field(var, "value_from", "valueFrom")
            from_secret = _field(value_from, "secret_key_ref", "secretKeyRef") is not None
            if is_storage_secret(_field(var, "name", "name")) or from_secret:
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
def configure(
    c: Any,
    *,
    image: str = DEFAULT_IMAGE,
    gpu_image: str = "",
    namespace_template: str = NAMESPACE_TEMPLATE,
) -> None:
    """Set KubeSpawner up for jupyter-mlplat on the hub's config ``c``."""
    spawner = c.KubeSpawner
    if "image" not in spawner:  # z2jh sets it from singleuser.image
        spawner.image = image
    if "profile_list" not in spawner:  # z2jh sets it from singleuser.profileList
        spawner.profile_list = profiles(image, gpu_image)
    spawner.cmd = ["jupyterhub-singleuser"]
    spawner.default_url = "/lab"
    spawner.enable_user_namespaces = True
    spawner.user_namespace_template = namespace_template
    spawner.user_namespace_labels = dict(MANAGED_BY)
    spawner.service_account = NOTEBOOK_SERVICE_ACCOUNT
    # the notebook talks to the API server (its Spark session, its InferenceServices)
    spawner.automount_service_account_token = True
    spawner.env_keep = []  # nothing from the hub's own environment
    # merged into what is there (z2jh's singleuser.extraEnv), the platform's settings win
    spawner.environment.update(environment_callables(spawner_environment, all_variables()))
    spawner.pre_spawn_hook = pre_spawn_hook
    spawner.modify_pod_hook = modify_pod_hook
    spawner.extra_labels = dict(MANAGED_BY)


def _service_account(name: str, meta: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": name, **meta}}


def _label_value(text: str) -> str:
    value = "".join(ch if ch.isalnum() or ch in "-_." else "-" for ch in text)[:63]
    return value.strip("-_.") or "user"


def _field(obj: Any, attribute: str, key: str) -> Any:
    """A field of a Kubernetes model object or of the plain dict a config left in its place."""
    if isinstance(obj, dict):
        return obj.get(key, obj.get(attribute))
    return getattr(obj, attribute, None)
