"""A user's namespace as the spawner sets it up, on kubelite (RBAC enforced).

``set_up_user_namespace`` applies, as the admin, the cluster-wide ClusterRoles of
``spawner_config/rbac/user-roles.yaml`` (what the cluster's admin applies once) and exactly what
``spawner_config/mlplat_spawner.py`` (``user_resources``) creates for a user: the namespace
labels, the service accounts and the bindings of those rules. Code under test then runs as the
notebook's service account (``NOTEBOOK``), so RBAC answers 403 wherever the user must not reach.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
USER_ROLES = ROOT / "spawner_config" / "rbac" / "user-roles.yaml"
NOTEBOOK = "mlplat-notebook"
MERGE = "application/merge-patch+json"


def spawner_module() -> Any:
    if str(ROOT / "spawner_config") not in sys.path:
        sys.path.insert(0, str(ROOT / "spawner_config"))
    import mlplat_spawner

    return mlplat_spawner


def set_up_user_namespace(kubelite: Any, namespace: str, user: str = "ada") -> None:
    """Apply the spawner's per-user resources to ``namespace`` and wait until RBAC has them."""
    from kubernetes.client.exceptions import ApiException

    admin = kubelite.client
    spawner = spawner_module()
    cluster_wide = [
        doc for doc in yaml.safe_load_all(USER_ROLES.read_text()) if doc and
        doc["kind"] == "ClusterRole"
    ]  # fmt: skip
    for role in cluster_wide:
        api = admin.resources.get(api_version=role["apiVersion"], kind=role["kind"])
        try:
            api.create(body=role)
        except ApiException as err:
            if err.status != 409:
                raise
            api.replace(body=role, name=role["metadata"]["name"])  # follow the file
    for resource in spawner.user_resources(namespace, user):
        api = admin.resources.get(api_version=resource["apiVersion"], kind=resource["kind"])
        if resource["kind"] == "Namespace":
            body = {"metadata": {"labels": resource["metadata"]["labels"]}}
            try:
                api.patch(name=namespace, body=body, content_type=MERGE)
            except ApiException as err:
                if err.status != 404:
                    raise
                api.create(body=resource)
            continue
        namespaced = resource["metadata"].get("namespace")
        try:
            api.create(body=resource, namespace=namespaced)
        except ApiException as err:
            if err.status != 409:
                raise
    wait_until_allowed(
        kubelite, namespace, NOTEBOOK, "get", "serving.kserve.io", "inferenceservices"
    )


def wait_until_allowed(
    kubelite: Any, namespace: str, account: str, verb: str, group: str, resource: str
) -> None:
    """A new binding takes effect once the authorizer's informer saw it (milliseconds)."""
    review = kubelite.client.resources.get(
        api_version="authorization.k8s.io/v1", kind="SubjectAccessReview"
    )
    body = {
        "spec": {
            "user": f"system:serviceaccount:{namespace}:{account}",
            "groups": ["system:serviceaccounts", f"system:serviceaccounts:{namespace}"],
            "resourceAttributes": {
                "namespace": namespace,
                "verb": verb,
                "group": group,
                "resource": resource,
            },
        }
    }
    deadline = time.monotonic() + 30
    while not review.create(body=body).status.allowed:
        if time.monotonic() > deadline:
            raise TimeoutError(f"{account} may still not {verb} {resource} in {namespace}")
        time.sleep(0.05)
