"""``parallel="kubernetes"`` submission as the user's own notebook service account, on a real API
server in RBAC mode (kubelite; no controller or kubelet: no pod starts, none is needed here).

The hub spawns the user's namespace with the spawner's code (``test_spawner_kubelite``); the
tuning module then creates the objective's ConfigMap and the Indexed Job with the client the
notebook pod would have. Another user's account is refused (403), and a submission refused
midway (403, 422, 409) leaves nothing behind. kubelite runs no admission policies: the Job the
server stored is checked against ``mlplat-user-jobs``' CEL as in the unit tests.
"""

from __future__ import annotations

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import Conflict, InvalidInput, Unavailable
from jupyter_mlplat.tuning import kubernetes as kube
from tests.integration.test_spawner_kubelite import (
    RBAC,
    can,
    cluster,
    create,
    eventually,
    spawn_as_hub,
    user,
)
from tests.unit.test_spawner_config import admission, dummy_kubeconfig

pytestmark = pytest.mark.integration
# fixtures: the platform's RBAC applied to kubelite; KubeSpawner off any real cluster
__all__ = ["cluster", "dummy_kubeconfig"]


@pytest.fixture(scope="module")
def spawned(cluster):
    """Two users' namespaces, spawned by the hub; the first one's notebook may create Jobs."""
    first, second = spawn_as_hub(cluster, user("tia"))[0], spawn_as_hub(cluster, user("uma"))[0]
    notebook = cluster.as_service_account(first, "mlplat-notebook")
    eventually(lambda: can(notebook, "create", "jobs", "batch", first))
    return first, second


def notebook_client(kubelite, namespace: str):
    """The ``ApiClient`` the notebook pod of ``namespace`` has (its service account's rights)."""
    return kubelite.api_client(act_as=f"system:serviceaccount:{namespace}:mlplat-notebook")


def build(namespace: str, study: str = "churn"):
    config = MLPlat(env={"MLP_NAMESPACE": namespace, "MLP_USER": "tia"})
    name = kube.job_name(study, "0123456789abcdef")
    config_map, job = kube.manifests(
        config, name=name, study_name=study, payload=b"objective", workers=2,
        env={"MLP_TUNING_TRIALS": "8"}, tracking_credential=True,
    )  # fmt: skip
    return config, config_map, job


def left_in(kubelite, namespace: str) -> set[tuple[str, str]]:
    """The platform's ConfigMaps and Jobs in ``namespace`` (as the admin sees them)."""
    found = set()
    for version, kind in (("v1", "ConfigMap"), ("batch/v1", "Job")):
        api = kubelite.client.resources.get(api_version=version, kind=kind)
        items = api.get(namespace=namespace, label_selector="jupyter-mlplat/study").items
        found |= {(kind, item.metadata.name) for item in items}
    return found


def test_the_notebook_account_submits_follows_and_deletes_its_trial_job(cluster, spawned):
    namespace, _ = spawned
    config, config_map, job = build(namespace)
    client = notebook_client(cluster, namespace)
    made = kube.submit(config, config_map, job, client)
    stored = cluster.client.resources.get(api_version="v1", kind="ConfigMap").get(
        name=job["metadata"]["name"], namespace=namespace
    )
    assert stored.metadata.ownerReferences[0].uid == made["metadata"]["uid"]
    assert kube.job_state(config, made["metadata"]["name"], client) == "running"
    requester = f"system:serviceaccount:{namespace}:mlplat-notebook"
    assert admission("jobs", made, requester, namespace) == []  # what a real cluster admits
    # the same account deletes it (a stopped study's cleanup)
    jobs = cluster.as_service_account(namespace, "mlplat-notebook").resources.get(
        api_version="batch/v1", kind="Job"
    )
    jobs.delete(name=made["metadata"]["name"], namespace=namespace)
    assert kube.job_state(config, made["metadata"]["name"], client) == "gone"


def test_another_users_account_is_refused_and_leaves_nothing(cluster, spawned):
    namespace, other = spawned
    config, config_map, job = build(namespace, "theirs")
    with pytest.raises(Unavailable, match=r"not allowed to create configmaps in namespace") as err:
        kube.submit(config, config_map, job, notebook_client(cluster, other))
    assert "\n" not in str(err.value)
    assert left_in(cluster, namespace) & {("ConfigMap", job["metadata"]["name"])} == set()


def test_a_submission_refused_midway_leaves_nothing(cluster, spawned):
    """403 at the Job (an account that may create ConfigMaps only), 403 at the ConfigMap's
    owner patch (it may create Jobs too), 422 at the Job (the notebook's own account): what was
    created first is deleted again."""
    namespace, _ = spawned
    admin = cluster.client
    role = {
        "apiVersion": RBAC,
        "kind": "Role",
        "metadata": {"name": "maps-only", "namespace": namespace},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "delete"]}],
    }
    create(admin, {"apiVersion": "v1", "kind": "ServiceAccount",
                   "metadata": {"name": "half", "namespace": namespace}})  # fmt: skip
    create(admin, role)
    create(
        admin,
        {
            "apiVersion": RBAC,
            "kind": "RoleBinding",
            "metadata": {"name": "maps-only", "namespace": namespace},
            "roleRef": {"apiGroup": RBAC.split("/")[0], "kind": "Role", "name": "maps-only"},
            "subjects": [{"kind": "ServiceAccount", "name": "half", "namespace": namespace}],
        },
    )
    half = cluster.as_service_account(namespace, "half")
    eventually(lambda: can(half, "create", "configmaps", "", namespace))
    before = left_in(cluster, namespace)

    config, config_map, job = build(namespace, "forbidden")
    client = cluster.api_client(act_as=f"system:serviceaccount:{namespace}:half")
    with pytest.raises(Unavailable, match=r"not allowed to create jobs\.batch in namespace"):
        kube.submit(config, config_map, job, client)
    assert left_in(cluster, namespace) == before

    # 403 at the last step (owning the ConfigMap by the Job): both go, the Job by its uid
    grant = [{"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["create", "delete"]}]
    roles = admin.resources.get(api_version=RBAC, kind="Role")
    roles.patch(
        name="maps-only",
        namespace=namespace,
        body={"rules": role["rules"] + grant},
        content_type="application/merge-patch+json",
    )
    eventually(lambda: can(half, "create", "jobs", "batch", namespace))
    config, config_map, job = build(namespace, "unowned")
    with pytest.raises(Unavailable, match=r"^cannot patch ConfigMap .*not allowed to patch"):
        kube.submit(config, config_map, job, client)
    assert left_in(cluster, namespace) == before

    config, config_map, job = build(namespace, "invalid")
    # (kubelite validates object metadata of built-in kinds, not their specs)
    labels = {**job["metadata"]["labels"], "not a label!": "x"}
    job["metadata"] = {**job["metadata"], "labels": labels}  # the ConfigMap's stay valid
    with pytest.raises(InvalidInput, match=r"^cannot create Job .*metadata.labels") as err:
        kube.submit(config, config_map, job, notebook_client(cluster, namespace))
    assert "\n" not in str(err.value)
    assert left_in(cluster, namespace) == before


def test_a_name_taken_is_a_conflict_and_the_existing_objects_stay(cluster, spawned):
    namespace, _ = spawned
    config, config_map, job = build(namespace, "twice")
    client = notebook_client(cluster, namespace)
    first = kube.submit(config, config_map, job, client)
    with pytest.raises(Conflict, match="already exists"):
        kube.submit(config, config_map, job, client)
    assert {("ConfigMap", first["metadata"]["name"]), ("Job", first["metadata"]["name"])} <= (
        left_in(cluster, namespace)
    )
    # a Job of that name but no ConfigMap (e.g. the objective deleted by hand): 409 at the Job,
    # this submission's ConfigMap goes again, the Job stays
    maps = cluster.client.resources.get(api_version="v1", kind="ConfigMap")
    maps.delete(name=first["metadata"]["name"], namespace=namespace)
    with pytest.raises(Conflict, match=r"^cannot create Job"):
        kube.submit(config, config_map, job, client)
    assert ("ConfigMap", first["metadata"]["name"]) not in left_in(cluster, namespace)
    assert kube.job_state(config, first["metadata"]["name"], client) == "running"
