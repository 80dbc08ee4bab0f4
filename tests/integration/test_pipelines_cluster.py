"""The cluster path of pipelines against a real API server (kubelite, RBAC enforced): a user
publishes a DAG as a ConfigMap with only their own rights, cannot publish into another user's
folder, and the task pod the executor builds from the pod template and the platform's override
is accepted in the user's namespace, with the user's service account and no credentials."""

from __future__ import annotations

import copy
import uuid
from pathlib import Path
from typing import Any

import pytest
import yaml

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.pipelines import cluster
from jupyter_mlplat.tracking.auth import CREDENTIAL_SECRET

pytestmark = pytest.mark.integration

FOLDER = Path(__file__).parents[2] / "spawner_config" / "cluster" / "airflow"
DAGS = "/opt/airflow/dags"


def admission(configmap: dict[str, Any]) -> list[str]:
    """The shipped policy's denial messages for creating ``configmap`` ([] = allowed)."""
    from tests.unit.test_spawner_config import CelCpp, CelPython, verdict

    policy = next(
        d for d in documents("publish-policy.yaml") if d["kind"] == "ValidatingAdmissionPolicy"
    )
    request = {"operation": "CREATE", "namespace": configmap["metadata"]["namespace"]}
    verdicts = [verdict(engine(configmap, request), policy) for engine in (CelPython, CelCpp)]
    assert verdicts[0] == verdicts[1], verdicts  # the two implementations agree
    return list(verdicts[0] or [])


def documents(name: str) -> list[dict[str, Any]]:
    return [d for d in yaml.safe_load_all((FOLDER / name).read_text()) if d]


def merge_pod(template: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """What the KubernetesExecutor does with ``pod_override``: metadata and spec fields of the
    override win, containers are merged by name (lists appended), volumes appended."""
    pod = copy.deepcopy(template)
    pod["metadata"] = {**pod["metadata"], **override["metadata"]}
    pod["metadata"]["labels"] = {**template["metadata"]["labels"], **override["metadata"]["labels"]}
    spec, extra = pod["spec"], override["spec"]
    for key, value in extra.items():
        if key == "containers":
            for patch in value:
                base = next(c for c in spec["containers"] if c["name"] == patch["name"])
                for field, items in patch.items():
                    if isinstance(items, list):
                        base[field] = base.get(field, []) + items
                    else:
                        base[field] = items
        elif key == "volumes":
            spec["volumes"] = spec.get("volumes", []) + value
        else:
            spec[key] = value
    pod["metadata"]["name"] = f"train-fit-{uuid.uuid4().hex[:6]}"
    return pod


@pytest.fixture
def user_namespace(kubelite) -> str:
    """mlplat-<user> with the notebook service account, the publisher Role bound to it, the
    sidecar's read access, and the executor's pod launcher (the chart's multiNamespaceMode)."""
    admin = kubelite.client
    namespace = f"mlplat-t{uuid.uuid4().hex[:8]}"
    admin.resources.get(api_version="v1", kind="Namespace").create(
        body={"metadata": {"name": namespace}}
    )
    for name in (cluster.NOTEBOOK_SERVICE_ACCOUNT,):
        admin.resources.get(api_version="v1", kind="ServiceAccount").create(
            body={"metadata": {"name": name}}, namespace=namespace
        )
    rbac = "rbac.authorization.k8s.io/v1"
    publisher = next(d for d in documents("rbac.yaml") if d["kind"] == "Role")
    admin.resources.get(api_version=rbac, kind="Role").create(body=publisher, namespace=namespace)
    admin.resources.get(api_version=rbac, kind="RoleBinding").create(
        body={
            "metadata": {"name": "mlplat-pipelines-publisher"},
            "roleRef": {
                "apiGroup": "rbac.authorization.k8s.io",
                "kind": "Role",
                "name": publisher["metadata"]["name"],
            },
            "subjects": [
                {
                    "kind": "ServiceAccount",
                    "name": cluster.NOTEBOOK_SERVICE_ACCOUNT,
                    "namespace": namespace,
                }
            ],
        },
        namespace=namespace,
    )
    # the admission policy: kubelite serves no admissionregistration API (see admission())
    for document in documents("rbac.yaml")[:2]:
        api = admin.resources.get(api_version=document["apiVersion"], kind=document["kind"])
        try:
            api.create(body=document)
        except Exception as err:  # another test of the session created it
            if getattr(err, "status", None) != 409:
                raise
    launcher = {
        "metadata": {"name": "test-airflow-pod-launcher"},
        "rules": [
            {
                "apiGroups": [""],
                "resources": ["pods", "pods/log"],
                "verbs": ["create", "get", "list", "watch", "delete", "patch"],
            }
        ],
    }
    binding = {
        "metadata": {"name": "test-airflow-pod-launcher"},
        "roleRef": {
            "apiGroup": "rbac.authorization.k8s.io",
            "kind": "ClusterRole",
            "name": "test-airflow-pod-launcher",
        },
        "subjects": [
            {"kind": "ServiceAccount", "name": "airflow-scheduler", "namespace": "airflow"}
        ],
    }
    for kind, body in (("ClusterRole", launcher), ("ClusterRoleBinding", binding)):
        try:
            admin.resources.get(api_version=rbac, kind=kind).create(body=body)
        except Exception as err:
            if getattr(err, "status", None) != 409:
                raise
    return namespace


def test_user_publishes_a_pipeline_into_their_folder_only(
    kubelite, user_namespace, tmp_path: Path
) -> None:
    from kubernetes.client.exceptions import ApiException

    namespace = user_namespace
    user = kubelite.as_service_account(namespace, cluster.NOTEBOOK_SERVICE_ACCOUNT)
    config = MLPlat(
        env={
            "MLP_USER": "ada",
            "MLP_NAMESPACE": namespace,
            "MLP_TRACKING_URI": "http://mlflow.mlflow.svc:5000",
            "MLP_SPARK_MODE": "kubernetes",
            "AWS_SECRET_ACCESS_KEY": "nope",
        }
    )
    source = "from airflow.sdk import dag\n"
    (tmp_path / "train.py").write_text(source)
    (tmp_path / "train.yaml").write_text("table: demo.iris\n")
    (tmp_path / "other.py").write_text("")
    manifests = cluster.pipeline_manifests(config, tmp_path / "train.py")
    cluster.publish(user, manifests)
    cluster.publish(user, manifests)  # publishing again replaces
    configmaps = kubelite.client.resources.get(api_version="v1", kind="ConfigMap")
    published = configmaps.get(name="pipeline-train", namespace=namespace)
    assert published.data["train.py"] == source
    assert dict(published.data) == {"train.py": source, "train.yaml": "table: demo.iris\n"}
    assert published.metadata.annotations[cluster.FOLDER_ANNOTATION] == namespace
    env = configmaps.get(name=cluster.PLATFORM_ENV_CONFIGMAP, namespace=namespace).data
    assert env.MLP_TRACKING_URI == "http://mlflow.mlflow.svc:5000" and env.MLP_USER == "ada"
    assert "AWS_SECRET_ACCESS_KEY" not in dict(env)

    # another user's folder: the admission policy denies it (kubelite stores the policy but
    # enforces none, so its CEL is evaluated here by two CEL engines, as the server would)
    foreign = cluster.pipeline_configmap(namespace, "ada", "steal.py", source)
    foreign["metadata"]["annotations"][cluster.FOLDER_ANNOTATION] = "mlplat-bob"
    assert admission(manifests[0]) == []
    assert admission(foreign) == [
        "a pipeline ConfigMap publishes into its own namespace's folder only"
    ]
    team = cluster.pipeline_configmap("airflow", "ada", "x.py", source)
    assert admission(team) == ["pipelines are published from a user namespace (mlplat-<user>)"]
    # and the notebook still reads no Secrets
    with pytest.raises(ApiException) as forbidden:
        user.resources.get(api_version="v1", kind="Secret").get(namespace=namespace)
    assert forbidden.value.status == 403


def test_task_pod_is_accepted_in_the_user_namespace(kubelite, user_namespace) -> None:
    namespace = user_namespace
    template = yaml.safe_load((FOLDER / "pod-template.yaml").read_text())
    override = cluster.task_pod_override(namespace, cluster.configmap_name("train.py"), DAGS)
    pod = merge_pod(template, override)
    assert cluster.folder_namespace(f"{DAGS}/{namespace}/train.py", DAGS) == namespace
    assert cluster.folder_namespace(f"{DAGS}/team.py", DAGS) is None

    launcher = kubelite.as_service_account("airflow", "airflow-scheduler")
    created = launcher.resources.get(api_version="v1", kind="Pod").create(
        body=pod, namespace=namespace
    )
    spec = created.spec
    assert created.metadata.namespace == namespace
    assert spec.serviceAccountName == cluster.NOTEBOOK_SERVICE_ACCOUNT
    (container,) = spec.containers
    assert container.envFrom[0].configMapRef.name == cluster.PLATFORM_ENV_CONFIGMAP
    mounts = {m.mountPath: m.name for m in container.volumeMounts}
    assert mounts[f"{DAGS}/{namespace}"] == "pipeline"
    # no storage credentials: no Secret volumes; from Secrets only the user's MLflow credential,
    # by reference to the one the hub keeps in the namespace (optional: none without auth)
    assert not any(v.get("secret") for v in created.to_dict()["spec"]["volumes"])
    env = created.to_dict()["spec"]["containers"][0]["env"]
    ref = {"name": CREDENTIAL_SECRET, "optional": True}
    assert {e["name"]: e["valueFrom"]["secretKeyRef"] for e in env if "valueFrom" in e} == {
        "MLFLOW_TRACKING_USERNAME": {**ref, "key": "username"},
        "MLFLOW_TRACKING_PASSWORD": {**ref, "key": "password"},
    }
    assert "AIRFLOW__CORE__EXECUTOR" in {e["name"] for e in env}  # the template's env is kept
