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
from jupyter_mlplat.errors import Conflict, InvalidInput, Unavailable
from jupyter_mlplat.pipelines import cluster
from jupyter_mlplat.tracking.auth import CREDENTIAL_SECRET
from tests.support.airflow_platform import one_task_dag

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


def test_a_pipeline_written_on_the_cluster_is_published_at_once(
    kubelite, user_namespace, tmp_path: Path, monkeypatch
) -> None:
    """The kernel's publish after a pipeline is written (``MLP_PIPELINES_PUBLISH=kubernetes``):
    the ConfigMaps land in the user's namespace with the notebook's own rights, and the cell's
    report names what the API server stored; with ``folder`` nothing is published."""
    from types import SimpleNamespace

    from jupyter_mlplat.infra import kube
    from jupyter_mlplat.kernel.commands import pipeline as command
    from jupyter_mlplat.kernel.render import Report
    from jupyter_mlplat.pipelines.project import PipelineFile

    namespace = user_namespace
    user = kubelite.as_service_account(namespace, cluster.NOTEBOOK_SERVICE_ACCOUNT)
    # the client a notebook pod gets (its service account), here from kubelite
    monkeypatch.setattr(kube, "default_api_client", lambda: user.client)
    (tmp_path / "train.py").write_text("from airflow.sdk import dag\n")
    written = PipelineFile("train", tmp_path / "train.py", ("train",))
    env = {"MLP_USER": "ada", "MLP_NAMESPACE": namespace}

    report = Report("Pipeline train")
    command.published(report, SimpleNamespace(mlplat=MLPlat(env=env)), written)
    assert report.sections == {}
    assert "pipeline-train" not in configmaps_of(kubelite, namespace)

    on_cluster = SimpleNamespace(mlplat=MLPlat(env=env | {"MLP_PIPELINES_PUBLISH": "kubernetes"}))
    command.published(report, on_cluster, written)
    stored = configmaps_of(kubelite, namespace)
    assert stored["pipeline-train"] == {"train.py": "from airflow.sdk import dag\n"}
    assert cluster.PLATFORM_ENV_CONFIGMAP in stored
    assert [(r.label, r.value) for r in report.sections["Published"]] == [
        ("namespace", namespace),
        ("ConfigMaps", f"pipeline-train, {cluster.PLATFORM_ENV_CONFIGMAP}"),
        ("DAGs", "train"),  # checked when written: not imported again
        ("Airflow folder", f"<dags>/{namespace}/"),
    ]


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


# -- faults during submission: one line, nothing half-applied ------------------------------------
def ada_config(namespace: str) -> MLPlat:
    return MLPlat(
        env={
            "MLP_USER": "ada",
            "MLP_NAMESPACE": namespace,
            "MLP_TRACKING_URI": "http://mlflow.mlflow.svc:5000",
        }
    )


def configmaps_of(kubelite, namespace: str) -> dict[str, dict[str, str]]:
    """Every ConfigMap of ``namespace`` (but the API server's own) by name: its data."""
    found = kubelite.client.resources.get(api_version="v1", kind="ConfigMap").get(
        namespace=namespace
    )
    return {
        item.metadata.name: dict(item.data or {})
        for item in found.items
        if item.metadata.name != "kube-root-ca.crt"
    }


def pipeline_file(tmp_path: Path, source: str = "from airflow.sdk import dag\n") -> Path:
    (tmp_path / "train.py").write_text(source)
    return tmp_path / "train.py"


def test_403_midway_undoes_what_was_published(kubelite, user_namespace, tmp_path: Path) -> None:
    """An account that may create and delete ConfigMaps but not update them: the platform
    environment is created, replacing the pipeline's older ConfigMap is refused, and the
    environment goes again. A stranger's account is refused at the first call."""
    namespace = user_namespace
    admin = kubelite.client
    rbac = "rbac.authorization.k8s.io/v1"
    admin.resources.get(api_version="v1", kind="ServiceAccount").create(
        body={"metadata": {"name": "no-update"}}, namespace=namespace
    )
    rule = {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "create", "delete"]}
    admin.resources.get(api_version=rbac, kind="Role").create(
        body={"metadata": {"name": "no-update"}, "rules": [rule]}, namespace=namespace
    )
    admin.resources.get(api_version=rbac, kind="RoleBinding").create(
        body={
            "metadata": {"name": "no-update"},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                        "name": "no-update"},
            "subjects": [{"kind": "ServiceAccount", "name": "no-update", "namespace": namespace}],
        },
        namespace=namespace,
    )  # fmt: skip
    config = ada_config(namespace)
    older = cluster.pipeline_configmap(namespace, "ada", "train.py", "# version 1\n")
    admin.resources.get(api_version="v1", kind="ConfigMap").create(body=older, namespace=namespace)
    manifests = cluster.pipeline_manifests(config, pipeline_file(tmp_path, "# version 2\n"))

    limited = kubelite.as_service_account(namespace, "no-update")
    with pytest.raises(Unavailable) as refused:
        cluster.publish(limited, manifests)
    assert str(refused.value) == (
        f"cannot replace ConfigMap {namespace}/pipeline-train: not allowed to update configmaps "
        f"in namespace {namespace} (check the RBAC of the notebook's service account)"
    )
    assert configmaps_of(kubelite, namespace) == {"pipeline-train": {"train.py": "# version 1\n"}}

    stranger = kubelite.as_service_account("default", "default")
    with pytest.raises(Unavailable, match=r"^cannot get ConfigMap .*not allowed to get") as denied:
        cluster.publish(stranger, manifests)
    assert "\n" not in str(denied.value)
    assert configmaps_of(kubelite, namespace) == {"pipeline-train": {"train.py": "# version 1\n"}}


def test_422_midway_restores_the_replaced_environment(
    kubelite, user_namespace, tmp_path: Path
) -> None:
    """The API refuses the pipeline's ConfigMap (a label value it rejects, as a bug would write)
    after the environment was replaced: the environment is put back. What upstream would refuse
    and kubelite does not check (data keys, size) is refused before anything is written."""
    namespace = user_namespace
    user = kubelite.as_service_account(namespace, cluster.NOTEBOOK_SERVICE_ACCOUNT)
    before = ada_config(namespace)
    cluster.publish(user, [cluster.platform_env_configmap(namespace, before)])
    published = configmaps_of(kubelite, namespace)
    changed = MLPlat(env={**before.to_environment(), "MLP_TRACKING_URI": "http://new:5000"})
    manifests = cluster.pipeline_manifests(changed, pipeline_file(tmp_path))
    assert manifests[1]["data"]["MLP_TRACKING_URI"] == "http://new:5000"
    broken = copy.deepcopy(manifests)
    broken[0]["metadata"]["labels"][cluster.PIPELINE_LABEL] = "not a label value"

    with pytest.raises(InvalidInput) as invalid:
        cluster.publish(user, broken)
    message = str(invalid.value)
    assert message.startswith(f"cannot create ConfigMap {namespace}/pipeline-train: metadata.")
    assert "\n" not in message
    assert configmaps_of(kubelite, namespace) == published  # as before the submission

    (tmp_path / "train.my features.yaml").write_text("table: demo.iris\n")
    with pytest.raises(InvalidInput) as bad_key:
        cluster.publish(user, cluster.pipeline_manifests(changed, tmp_path / "train.py"))
    assert str(bad_key.value).startswith(
        f"cannot publish ConfigMap {namespace}/pipeline-train: data[train.my features.yaml]: "
    )
    (tmp_path / "train.my features.yaml").unlink()
    with pytest.raises(InvalidInput, match="a ConfigMap at most 1048576"):
        cluster.publish(
            user, cluster.pipeline_manifests(changed, pipeline_file(tmp_path, "#" * (2**20 + 1)))
        )
    assert configmaps_of(kubelite, namespace) == published


def test_409_a_configmap_that_is_not_ours_is_left_alone(
    kubelite, user_namespace, tmp_path: Path
) -> None:
    namespace = user_namespace
    admin = kubelite.client
    foreign = {"metadata": {"name": "pipeline-train"}, "data": {"team.json": "{}"}}
    admin.resources.get(api_version="v1", kind="ConfigMap").create(
        body=foreign, namespace=namespace
    )
    user = kubelite.as_service_account(namespace, cluster.NOTEBOOK_SERVICE_ACCOUNT)
    manifests = cluster.pipeline_manifests(ada_config(namespace), pipeline_file(tmp_path))
    with pytest.raises(Conflict) as taken:
        cluster.publish(user, manifests)
    assert str(taken.value) == (
        f"a ConfigMap named pipeline-train already exists in {namespace} and is not a pipeline "
        "published by you: rename the pipeline file or remove that ConfigMap"
    )
    assert configmaps_of(kubelite, namespace) == {"pipeline-train": {"team.json": "{}"}}

    # the API's own 409: someone changes the pipeline's ConfigMap between read and replace
    admin.resources.get(api_version="v1", kind="ConfigMap").delete(
        name="pipeline-train", namespace=namespace
    )
    cluster.publish(user, manifests)
    published = configmaps_of(kubelite, namespace)
    racing = RacingClient(user, admin, namespace, "pipeline-train")
    with pytest.raises(Conflict) as raced:
        cluster.publish(racing, cluster.pipeline_manifests(
            ada_config(namespace), pipeline_file(tmp_path, "# newer\n")
        ))  # fmt: skip
    assert str(raced.value).startswith(
        f"cannot replace ConfigMap {namespace}/pipeline-train: Operation cannot be fulfilled"
    )
    assert "\n" not in str(raced.value)
    published["pipeline-train"]["touched"] = "by someone else"
    assert configmaps_of(kubelite, namespace) == published  # the environment as it was


class RacingClient:
    """The user's real client; someone else writes ``name`` right after the user reads it."""

    def __init__(self, user: Any, other: Any, namespace: str, name: str) -> None:
        self.client, self._user, self._other = user.client, user, other
        self._namespace, self._name = namespace, name
        self.resources = self

    def get(self, **kwargs: Any) -> Any:
        return RacingResource(self, self._user.resources.get(**kwargs))


class RacingResource:
    def __init__(self, racing: RacingClient, api: Any) -> None:
        self._racing, self._api = racing, api

    def __getattr__(self, attribute: str) -> Any:
        return getattr(self._api, attribute)

    def get(self, **kwargs: Any) -> Any:
        found = self._api.get(**kwargs)
        racing = self._racing
        if kwargs.get("name") == racing._name:
            racing._other.resources.get(api_version="v1", kind="ConfigMap").patch(
                name=racing._name,
                namespace=racing._namespace,
                body={"data": {"touched": "by someone else"}},
            )
        return found


def test_a_stalled_api_server_fails_in_one_line_and_publishes_nothing(
    kubelite, user_namespace, tmp_path: Path, monkeypatch
) -> None:
    """The API server accepts connections and never answers (after discovery): bounded."""
    import socket
    import time

    from jupyter_mlplat.infra import kube

    monkeypatch.setattr(kube, "READ_TIMEOUT", 2.0)
    namespace = user_namespace
    user = kubelite.as_service_account(namespace, cluster.NOTEBOOK_SERVICE_ACCOUNT)
    manifests = cluster.pipeline_manifests(ada_config(namespace), pipeline_file(tmp_path))
    user.resources.get(api_version="v1", kind="ConfigMap")  # discovered before the stall
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(8)  # connections queue in the backlog; nobody reads them
        configuration = user.client.configuration
        configuration.refresh_api_key_hook = None  # it would set the kubeconfig's host again
        configuration.host = f"http://127.0.0.1:{stalled.getsockname()[1]}"
        started = time.monotonic()
        with pytest.raises(Unavailable, match="Kubernetes API unreachable") as err:
            cluster.publish(user, manifests)
    assert time.monotonic() - started < 30
    assert str(err.value).startswith(f"cannot get ConfigMap {namespace}/mlplat-platform-env: ")
    assert "\n" not in str(err.value)
    assert configmaps_of(kubelite, namespace) == {}


# -- the surface: what %mlp pipeline publish, the automatic publish and the REST route call ------
DAG = one_task_dag("train")


def test_publish_file_as_the_notebook_service_account(
    kubelite, user_namespace, tmp_path: Path
) -> None:
    """In a user's pod (MLP_PIPELINES_PUBLISH=kubernetes) the file is imported with Airflow,
    then published with the pod's service account; a refused account gets one line and
    nothing changes."""
    namespace = user_namespace
    config = MLPlat(
        env={**ada_config(namespace).to_environment(), "MLP_PIPELINES_PUBLISH": "kubernetes"}
    )
    path = pipeline_file(tmp_path, DAG)
    (tmp_path / "train.yaml").write_text("table: demo.iris\n")
    user = kubelite.as_service_account(namespace, cluster.NOTEBOOK_SERVICE_ACCOUNT)
    done = cluster.publish_file(config, path, client=user)
    assert done == {
        "mode": "kubernetes",
        "file": "train.py",
        "dag_ids": ["train"],
        "namespace": namespace,
        "configmaps": ["pipeline-train", cluster.PLATFORM_ENV_CONFIGMAP],
        "folder": f"{namespace}/",
        "message": f"published to {namespace}: the team's Airflow reads it from "
        f"<dags>/{namespace}/train.py",
    }
    published = configmaps_of(kubelite, namespace)
    assert published["pipeline-train"] == {"train.py": DAG, "train.yaml": "table: demo.iris\n"}

    path.write_text("# a newer version\n" + DAG)
    stranger = kubelite.as_service_account("default", "default")
    with pytest.raises(Unavailable) as refused:
        cluster.publish_file(config, path, client=stranger, dag_ids=done["dag_ids"])
    assert str(refused.value) == (
        f"cannot get ConfigMap {namespace}/{cluster.PLATFORM_ENV_CONFIGMAP}: not allowed to get "
        f"configmaps in namespace {namespace} (check the RBAC of the notebook's service account)"
    )
    assert configmaps_of(kubelite, namespace) == published


def test_the_publish_route_locally_says_the_folder_is_read_and_refuses_bad_paths(platform) -> None:
    """``mlplat up`` (folder mode): nothing to publish; the answer names the pipelines folder
    relative to the server's root (no server paths). The file is outside the pipelines folder:
    one there would start the session platform's Airflow."""
    lab = platform.lab
    (platform.notebook_dir / "drafts").mkdir(exist_ok=True)
    (platform.notebook_dir / "drafts" / "train.py").write_text(DAG)
    answer = lab.api("POST", "mlplat/api/pipelines/publish", json={"path": "drafts/train.py"})
    assert answer.status_code == 200, answer.text
    assert answer.json() == {
        "mode": "folder",
        "file": "drafts/train.py",
        "dag_ids": [],
        "namespace": "",
        "configmaps": [],
        "folder": "pipelines",
        "message": (
            "nothing published: the local Airflow reads pipelines/ only; move train.py there"
        ),
    }
    outside = platform.notebook_dir.parent / "outside.py"
    outside.write_text(DAG)
    for body, message in [
        ({"path": "../outside.py"}, "'../outside.py' is outside the server's root"),
        ({"path": str(outside)}, "is outside the server's root"),
        ({"path": "drafts/missing.py"}, "no pipeline file missing.py"),
        ({"path": "drafts"}, "no pipeline file drafts"),
        ({"path": "a\x00b.py"}, "not a file path"),
        ({"path": ""}, "path must be a .py file"),
        ({}, "path must be a .py file"),
        ([], 'send {"path"'),
    ]:
        refused = lab.api("POST", "mlplat/api/pipelines/publish", json=body)
        assert refused.status_code == 400, (body, refused.text)
        assert message in refused.json()["message"], (body, refused.text)
    not_json = lab.api("POST", "mlplat/api/pipelines/publish", data="{")
    assert not_json.status_code == 400 and "not valid JSON" in not_json.json()["message"]
