"""``spawner_config/`` on a real Kubernetes API server (kubelite) that enforces RBAC.

The cluster's admin applies ``rbac/`` once; the hub, acting as its own service account bound to
``rbac/hub-clusterrole.yaml``, creates each user's namespace, service accounts, RoleBindings and
pod with the spawner's own code. Then the tests act as the user's notebook and ``spark``
service accounts (impersonation): what they must do succeeds, everything else is 403 from the
server's authorizer. kubelite runs no admission policies: where only
``cluster/serving-identity-policy.yaml`` can refuse a request, the test shows that RBAC lets it
through and that the policy's own CEL (evaluated as in the unit tests) denies the very object the
server produced for it.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException

from tests.support.waiting import eventually
from tests.unit.test_spawner_config import (
    admission,
    dummy_kubeconfig,
    hub_config,
    spawn,
    yaml_documents,
)

pytestmark = pytest.mark.integration
__all__ = ["dummy_kubeconfig"]  # the unit tests' fixture: KubeSpawner off any real cluster

HUB = ("jhub", "hub")  # the subject of rbac/hub-clusterrole.yaml
RBAC = "rbac.authorization.k8s.io/v1"


@pytest.fixture(scope="module")
def cluster(kubelite):
    return with_platform_rbac(kubelite)


def with_platform_rbac(kubelite):
    """What the cluster's admin applies once: the user ClusterRoles, the hub's ClusterRole and
    binding, the KServe config reader (and the namespaces they live in). Idempotent."""
    admin = kubelite.client
    for name in (HUB[0], "kserve"):
        create(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name}})
    for doc in [
        *yaml_documents("rbac", "user-roles.yaml"),
        *yaml_documents("rbac", "hub-clusterrole.yaml"),
        *yaml_documents("rbac", "kserve-config-reader.yaml"),
    ]:
        create(admin, doc)
    create(
        admin,
        {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": "inferenceservice-config", "namespace": "kserve"},
            "data": {"deploy": '{"defaultDeploymentMode": "Standard"}'},
        },
    )
    hub = kubelite.as_service_account(*HUB)
    # RBAC objects take effect once the authorizer's informer has seen them (milliseconds)
    eventually(lambda: can(hub, "create", "namespaces"))
    return kubelite


def create(client, body: dict) -> None:
    """Create ``body`` as ``client``; an existing object (an earlier module) is fine."""
    resource = client.resources.get(api_version=body["apiVersion"], kind=body["kind"])
    try:
        resource.create(body=body, namespace=body["metadata"].get("namespace"))
    except ApiException as err:
        if err.status != 409:
            raise


def can(client, verb: str, resource: str, group: str = "", namespace: str = "", **extra) -> bool:
    """``kubectl auth can-i`` for ``client``'s user: a SelfSubjectAccessReview the server
    answers with the same authorizer that guards every request."""
    review = client.resources.get(
        api_version="authorization.k8s.io/v1", kind="SelfSubjectAccessReview"
    )
    attributes = {"verb": verb, "resource": resource, "group": group, "namespace": namespace}
    answer = review.create(body={"spec": {"resourceAttributes": {**attributes, **extra}}})
    return bool(answer.status.allowed)


def forbidden(call: Callable[[], Any]) -> str:
    """Run ``call``; it must be refused by the authorizer (403). The server's message."""
    with pytest.raises(ApiException) as refused:
        call()
    assert refused.value.status == 403, refused.value.body
    return str(refused.value.body)


def spawn_as_hub(kubelite, username: str, c: Any = None) -> tuple[str, dict]:
    """What the hub does for a user, as the hub's service account: the spawner's own
    ``pre_spawn_hook`` (twice: a second spawn updates what is there), then KubeSpawner's pod
    (``c``: the hub's config, default :func:`hub_config`). The namespace and the pod as stored."""
    import mlplat_spawner
    from kubernetes_asyncio import config

    c = c or hub_config()
    c.MLPlatSpawner.models_annotations = {"eks.amazonaws.com/role-arn": "arn:aws:x"}
    spawner, _ = spawn(c, username)

    async def pre_spawn() -> Any:
        api_client = await config.new_client_from_config(config_file=str(kubelite.kubeconfig))
        api_client.set_default_header(
            "Impersonate-User", "system:serviceaccount:{}:{}".format(*HUB)
        )
        async with api_client:
            # the spawner with the hub's client in place of the mocked one
            hub_side = SimpleNamespace(
                user=spawner.user,
                namespace=spawner.namespace,
                config=spawner.config,
                environment=dict(spawner.environment),
                api=SimpleNamespace(api_client=api_client),
            )
            await mlplat_spawner.pre_spawn_hook(hub_side)
            await mlplat_spawner.pre_spawn_hook(hub_side)
        spawner.environment = hub_side.environment  # what the hook set (the MLflow credential)
        return mlplat_spawner.modify_pod_hook(spawner, await spawner.get_pod_manifest())

    pod = asyncio.run(pre_spawn())
    hub = kubelite.as_service_account(*HUB)
    created = hub.resources.get(api_version="v1", kind="Pod").create(
        body=as_manifest(pod), namespace=spawner.namespace
    )
    return spawner.namespace, created.to_dict()


def as_manifest(model) -> dict:
    """A kubernetes_asyncio model as the JSON the API server receives."""
    from kubernetes_asyncio.client import ApiClient

    async def serialize() -> dict:
        async with ApiClient() as client:
            return client.sanitize_for_serialization(model)

    return asyncio.run(serialize())


def user(prefix: str) -> str:
    """A user name of its own per test (kubelite cannot delete namespaces)."""
    return f"{prefix}{uuid.uuid4().hex[:6]}"


def test_the_hub_creates_the_users_namespace_accounts_bindings_and_pod(cluster):
    name = user("ada")
    namespace, pod = spawn_as_hub(cluster, name)
    assert namespace == f"mlplat-{name}"
    admin = cluster.client
    ns = admin.resources.get(api_version="v1", kind="Namespace").get(name=namespace)
    assert ns.metadata.labels["mlplat.io/user-namespace"] == "true"
    accounts = admin.resources.get(api_version="v1", kind="ServiceAccount").get(namespace=namespace)
    names = {a.metadata.name: a for a in accounts.items}
    assert {"mlplat-notebook", "spark", "mlplat-models"} <= names.keys()
    models = names["mlplat-models"].metadata.annotations  # from c.MLPlatSpawner
    assert models["eks.amazonaws.com/role-arn"] == "arn:aws:x"
    bindings = admin.resources.get(api_version=RBAC, kind="RoleBinding").get(namespace=namespace)
    assert {(b.roleRef.kind, b.roleRef.name) for b in bindings.items} == {
        ("ClusterRole", "mlplat-notebook"),
        ("ClusterRole", "mlplat-spark"),
        ("ClusterRole", "mlplat-tracking-credential"),
    }
    assert pod["spec"]["serviceAccountName"] == "mlplat-notebook"
    assert pod["metadata"]["labels"]["hub.jupyter.org/network-access-hub"] == "true"
    env = {e["name"]: e.get("value", "") for e in pod["spec"]["containers"][0]["env"]}
    assert env["MLP_NAMESPACE"] == namespace and env["MLP_USER"] == name
    assert not [var for var in env if var.startswith(("AWS_", "AZURE_", "MLFLOW_S3"))]


def test_the_hub_holds_only_what_spawning_needs(cluster):
    namespace, _ = spawn_as_hub(cluster, user("hal"))
    hub = cluster.as_service_account(*HUB)
    secrets = hub.resources.get(api_version="v1", kind="Secret")
    forbidden(lambda: secrets.get(namespace=namespace))
    forbidden(secrets.get)  # nor cluster-wide
    forbidden(lambda: secrets.get(namespace="kube-system"))
    # it binds the two user ClusterRoles, and nothing it does not hold itself
    binding = {
        "apiVersion": RBAC,
        "kind": "RoleBinding",
        "metadata": {"name": "hub-escalates", "namespace": namespace},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "admin",
        },
        "subjects": [{"kind": "ServiceAccount", "name": "mlplat-notebook", "namespace": namespace}],
    }
    bindings = hub.resources.get(api_version=RBAC, kind="RoleBinding")
    refused = forbidden(lambda: bindings.create(body=binding, namespace=namespace))
    assert "escalat" in refused or "bind" in refused, refused
    role = {"apiVersion": RBAC, "kind": "Role", "metadata": {"name": "r"}, "rules": []}
    roles = hub.resources.get(api_version=RBAC, kind="Role")
    forbidden(lambda: roles.create(body=role, namespace=namespace))
    # it does not hold the users' rules (it grants them by `bind`), nor relabels namespaces
    assert not can(hub, "create", "sparkconnects", "sparkoperator.k8s.io", namespace)
    assert not can(hub, "create", "inferenceservices", "serving.kserve.io", namespace)
    assert not can(hub, "patch", "namespaces", name=namespace)
    assert can(hub, "watch", "pods")  # KubeSpawner's one informer over all user namespaces


def test_the_notebook_account_works_in_its_own_namespace_only(cluster):
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.spark.kubernetes import KubernetesBackend

    cluster.wait_for_crds("SparkConnect")
    name, other = user("bob"), user("cy")
    namespace, _ = spawn_as_hub(cluster, name)
    elsewhere, _ = spawn_as_hub(cluster, other)
    notebook = cluster.as_service_account(namespace, "mlplat-notebook")
    eventually(
        lambda: can(notebook, "create", "sparkconnects", "sparkoperator.k8s.io", namespace),
        what="RBAC change",
    )

    # its Spark session, as the Spark backend builds it
    config = MLPlat(env={"MLP_NAMESPACE": namespace, "MLP_USER": name})
    manifest = KubernetesBackend(config).manifest()
    sessions = notebook.resources.get(api_version=manifest["apiVersion"], kind="SparkConnect")
    created = sessions.create(body=manifest, namespace=namespace)
    assert created.spec.server.template.spec.serviceAccountName == "spark"
    requester = f"system:serviceaccount:{namespace}:mlplat-notebook"
    assert admission("sparkconnects", created.to_dict(), requester, namespace) == []
    # RBAC lets it ask for a session that runs as the serving identity: the policy refuses it
    borrowed = {**manifest, "metadata": {**manifest["metadata"], "name": "borrow"}}
    borrowed["spec"] = {**manifest["spec"], "server": {**manifest["spec"]["server"]}}
    borrowed["spec"]["server"]["template"] = {"spec": {"serviceAccountName": "mlplat-models"}}
    produced = sessions.create(body=borrowed, namespace=namespace, dry_run="All")
    assert admission("sparkconnects", produced.to_dict(), requester, namespace)
    notebook.resources.get(api_version="v1", kind="Pod").get(namespace=namespace)

    # no pods, Secrets or RBAC of its own
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "busybox"}]},
    }
    forbidden(
        lambda: notebook.resources.get(api_version="v1", kind="Pod").create(
            body=pod, namespace=namespace
        )
    )
    secrets = notebook.resources.get(api_version="v1", kind="Secret")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": {"name": "s"},
        "stringData": {"k": "v"},
    }
    forbidden(lambda: secrets.get(namespace=namespace))
    forbidden(lambda: secrets.create(body=secret, namespace=namespace))
    forbidden(
        lambda: notebook.resources.get(api_version=RBAC, kind="RoleBinding").get(
            namespace=namespace
        )
    )
    forbidden(
        lambda: notebook.resources.get(api_version=RBAC, kind="Role").create(
            body={"apiVersion": RBAC, "kind": "Role", "metadata": {"name": "r"}, "rules": []},
            namespace=namespace,
        )
    )
    forbidden(
        lambda: notebook.resources.get(api_version="v1", kind="ServiceAccount").create(
            body={"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "x"}},
            namespace=namespace,
        )
    )

    # nothing in another user's namespace
    message = forbidden(lambda: sessions.get(namespace=elsewhere))
    assert f'in the namespace \\"{elsewhere}\\"' in message or elsewhere in message
    forbidden(
        lambda: sessions.create(
            body={**manifest, "metadata": {**manifest["metadata"], "namespace": elsewhere}},
            namespace=elsewhere,
        )
    )
    forbidden(lambda: notebook.resources.get(api_version="v1", kind="Pod").get(namespace=elsewhere))

    # KServe's default mode: one named ConfigMap of the kserve namespace, read only
    config_maps = notebook.resources.get(api_version="v1", kind="ConfigMap")
    found = config_maps.get(name="inferenceservice-config", namespace="kserve")
    assert "Standard" in found.data["deploy"]
    forbidden(lambda: config_maps.get(namespace="kserve"))


def test_an_unlabelled_namespace_is_not_used(cluster):
    """The hub may not relabel namespaces; one without the user-namespace label (from before,
    or made by hand) would escape the admission policy, so the spawn stops with the fix."""
    name = user("fay")
    admin = cluster.client
    create(admin, {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": f"mlplat-{name}"}})
    with pytest.raises(RuntimeError, match=f"kubectl label namespace mlplat-{name} mlplat.io/user"):
        spawn_as_hub(cluster, name)
    accounts = admin.resources.get(api_version="v1", kind="ServiceAccount")
    assert not accounts.get(namespace=f"mlplat-{name}").items  # nothing created in it


def test_inferenceservices_the_notebook_creates_pass_and_borrowing_the_identity_is_refused(cluster):
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.deploy.kserve import DEFAULT_MODE, build_manifest
    from jupyter_mlplat.deploy.models import Deployment, ModelRef, Revision

    cluster.wait_for_crds("InferenceService")
    name = user("dee")
    namespace, _ = spawn_as_hub(cluster, name)
    notebook = cluster.as_service_account(namespace, "mlplat-notebook")
    eventually(
        lambda: can(notebook, "create", "inferenceservices", "serving.kserve.io", namespace),
        what="RBAC change",
    )
    config = MLPlat(env={"MLP_NAMESPACE": namespace, "MLP_USER": name})
    uri = "s3://mlflow/artifacts/1/models/m-1/artifacts"
    deployment = Deployment(
        "iris", name, "kserve", Revision(ModelRef("models:/iris/1", "iris", "1", "", uri), 100)
    )
    isvcs = notebook.resources.get(api_version="serving.kserve.io/v1beta1", kind="InferenceService")
    requester = f"system:serviceaccount:{namespace}:mlplat-notebook"
    created = isvcs.create(
        body=build_manifest(deployment, None, DEFAULT_MODE, config), namespace=namespace
    )
    assert created.spec.predictor.serviceAccountName == "mlplat-models"
    assert admission("inferenceservices", created.to_dict(), requester, namespace) == []

    # RBAC lets the same account submit a predictor of its own running as mlplat-models
    # (the CRD accepts it too): only the admission policy can refuse it, and it does
    borrowed = {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": "borrow", "namespace": namespace},
        "spec": {
            "predictor": {
                "serviceAccountName": "mlplat-models",
                "containers": [{"name": "kserve-container", "image": "me/steal:1"}],
            }
        },
    }
    produced = isvcs.create(body=borrowed, namespace=namespace, dry_run="All")
    assert admission("inferenceservices", produced.to_dict(), requester, namespace)


def test_the_spark_account_starts_executors_only_as_itself(cluster):
    name = user("eve")
    namespace, _ = spawn_as_hub(cluster, name)
    spark = cluster.as_service_account(namespace, "spark")
    eventually(lambda: can(spark, "create", "pods", "", namespace))
    pods = spark.resources.get(api_version="v1", kind="Pod")
    requester = f"system:serviceaccount:{namespace}:spark"

    def executor(account: str) -> dict:
        container = {"name": "spark-kubernetes-executor", "image": "apache/spark:4.0.0"}
        return {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": f"exec-{account}"},
            "spec": {"serviceAccountName": account, "containers": [container]},
        }

    created = pods.create(body=executor("spark"), namespace=namespace)
    assert admission("pods", created.to_dict(), requester, namespace) == []
    # RBAC cannot tell a pod's service account: this is the admission policy's to refuse
    produced = pods.create(body=executor("mlplat-models"), namespace=namespace, dry_run="All")
    assert admission("pods", produced.to_dict(), requester, namespace)

    secrets = spark.resources.get(api_version="v1", kind="Secret")
    forbidden(lambda: secrets.get(namespace=namespace))
    forbidden(lambda: secrets.get(name="anything", namespace=namespace))
    assert not can(spark, "create", "inferenceservices", "serving.kserve.io", namespace)
    assert not can(spark, "create", "sparkconnects", "sparkoperator.k8s.io", namespace)
    assert not can(spark, "create", "rolebindings", "rbac.authorization.k8s.io", namespace)
    assert not can(spark, "create", "pods", "", "default")
    # the serving identity itself holds no Kubernetes rights at all
    models = cluster.as_service_account(namespace, "mlplat-models")
    assert not can(models, "get", "secrets", "", namespace)
    assert not can(models, "list", "pods", "", namespace)
