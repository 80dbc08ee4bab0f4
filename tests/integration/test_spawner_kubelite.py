"""The user's namespace, service accounts, Roles, RoleBindings and pod from ``spawner_config/``
sent to a real Kubernetes API server (kubelite)."""

from __future__ import annotations

import asyncio

import pytest

from tests.unit.test_spawner_config import SPAWNER_CONFIG, dummy_kubeconfig, hub_config, spawn

pytestmark = pytest.mark.integration
__all__ = ["dummy_kubeconfig"]  # the unit tests' fixture: KubeSpawner off any real cluster


def apply_user_resources(kubelite, namespace: str, username: str) -> list[dict]:
    """What the hub's pre_spawn_hook does, with the same code, against kubelite."""
    import mlplat_spawner
    from kubernetes_asyncio import config

    resources = mlplat_spawner.user_resources(
        namespace, username, models_annotations={"eks.amazonaws.com/role-arn": "arn:aws:x"}
    )

    async def apply() -> None:
        api_client = await config.new_client_from_config(config_file=str(kubelite.kubeconfig))
        async with api_client:
            await mlplat_spawner.apply_resources(api_client, resources)
            await mlplat_spawner.apply_resources(api_client, resources)  # a second spawn

    asyncio.run(apply())
    return resources


def as_manifest(model) -> dict:
    """A kubernetes_asyncio model as the JSON the API server receives."""
    from kubernetes_asyncio.client import ApiClient

    async def serialize() -> dict:
        async with ApiClient() as client:
            return client.sanitize_for_serialization(model)

    return asyncio.run(serialize())


def can(kube, namespace, service_account, verb, resource, group="", target=None) -> bool:
    """May ``service_account`` of ``namespace`` do this in ``target`` (default: its own)?

    kubelite serves no SubjectAccessReview API, so this evaluates RBAC the way the authorizer
    does, from the RoleBindings, ClusterRoleBindings and roles stored in the API server.
    """
    target = target or namespace
    rbac = "rbac.authorization.k8s.io/v1"
    subject = {"kind": "ServiceAccount", "name": service_account, "namespace": namespace}

    def bound(binding) -> bool:
        return any({k: s.get(k) for k in subject} == subject for s in (binding.subjects or []))

    rules = []
    bindings = kube.resources.get(api_version=rbac, kind="RoleBinding").get(namespace=target)
    cluster = kube.resources.get(api_version=rbac, kind="ClusterRoleBinding").get()
    for binding in [*bindings.items, *cluster.items]:
        if not bound(binding):
            continue
        ref = binding.roleRef
        if ref.kind == "Role":
            role = kube.resources.get(api_version=rbac, kind="Role").get(
                name=ref.name, namespace=target
            )
        else:
            role = kube.resources.get(api_version=rbac, kind="ClusterRole").get(name=ref.name)
        rules.extend(role.rules or [])
    return any(
        group in r.apiGroups
        and (resource in r.resources or "*" in r.resources)
        and (verb in r.verbs or "*" in r.verbs)
        for r in rules
    )


def test_user_resources_and_pod_are_accepted_by_the_api_server(kubelite):
    spawner, pod = spawn(hub_config(), "ada")
    namespace = spawner.namespace
    assert namespace == "mlplat-ada"
    apply_user_resources(kubelite, namespace, "ada")

    kube = kubelite.client
    accounts = kube.resources.get(api_version="v1", kind="ServiceAccount")
    names = {sa.metadata.name for sa in accounts.get(namespace=namespace).items}
    assert {"mlplat-notebook", "spark", "mlplat-models"} <= names
    roles = kube.resources.get(api_version="rbac.authorization.k8s.io/v1", kind="Role")
    assert {r.metadata.name for r in roles.get(namespace=namespace).items} >= {
        "mlplat-notebook",
        "mlplat-spark",
    }

    body = as_manifest(pod)
    pods = kube.resources.get(api_version="v1", kind="Pod")
    created = pods.create(body=body, namespace=namespace)
    assert created.spec.serviceAccountName == "mlplat-notebook"
    env = {e.name: e.value for e in created.spec.containers[0].env}
    assert env["MLP_NAMESPACE"] == namespace and env["MLP_USER"] == "ada"
    assert not [name for name in env if name.startswith(("AWS_", "AZURE_", "MLFLOW_S3"))]


def test_rbac_allows_exactly_the_users_own_namespace(kubelite):
    kubelite.wait_for_crds("SparkConnect")
    apply_user_resources(kubelite, "mlplat-bob", "bob")
    apply_user_resources(kubelite, "mlplat-cy", "cy")
    kube = kubelite.client
    sa = "mlplat-notebook"
    assert can(kube, "mlplat-bob", sa, "create", "sparkconnects", "sparkoperator.k8s.io")
    assert can(kube, "mlplat-bob", sa, "delete", "inferenceservices", "serving.kserve.io")
    assert can(kube, "mlplat-bob", sa, "list", "pods")
    assert not can(kube, "mlplat-bob", sa, "create", "pods")
    assert not can(kube, "mlplat-bob", sa, "get", "secrets")
    assert can(kube, "mlplat-bob", "spark", "create", "pods")

    def cross(verb: str, resource: str, group: str = "") -> bool:
        """bob's notebook service account acting in cy's namespace."""
        return can(kube, "mlplat-bob", sa, verb, resource, group, target="mlplat-cy")

    assert not cross("get", "sparkconnects", "sparkoperator.k8s.io")
    assert not cross("create", "inferenceservices", "serving.kserve.io")
    assert not cross("list", "pods")
    assert (SPAWNER_CONFIG / "rbac" / "user-roles.yaml").exists()
