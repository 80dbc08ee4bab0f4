"""Spark on Kubernetes against a real API server (kubelite, RBAC enforced) with the Spark
Operator's CRD.

The backend runs as the user's notebook service account with the Roles the spawner gives it
(``spawner_config/rbac/user-roles.yaml``): 403 wherever it must not reach. kubelite has no
controllers: the tests play the Spark Operator (status patches) and the garbage collector
(removing the ``foregroundDeletion`` finalizer) themselves, as the admin.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, NotFound, Unavailable
from jupyter_mlplat.infra.kube import MANAGED_BY
from jupyter_mlplat.spark.kubernetes import SPARK_CONNECT, KubernetesBackend
from tests.support.user_namespace import NOTEBOOK, set_up_user_namespace

pytestmark = pytest.mark.integration

MERGE = "application/merge-patch+json"
OUR_LABEL = ",".join(f"{k}={v}" for k, v in MANAGED_BY.items())


ADMIN: dict[str, Any] = {}


@pytest.fixture
def spark_client(kubelite) -> Any:
    """The admin's client once the SparkConnect CRD is ready (KServe's may still install)."""
    kubelite.wait_for_crds("SparkConnect")
    ADMIN["api"] = kubelite.client.resources.get(
        api_version=SPARK_CONNECT.api_version, kind=SPARK_CONNECT.kind
    )
    return kubelite.client


@pytest.fixture
def notebook(kubelite, spark_client, k8s_namespace) -> Any:
    """The notebook's service account in a namespace set up as the spawner does."""
    set_up_user_namespace(kubelite, k8s_namespace)
    return kubelite.as_service_account(k8s_namespace, NOTEBOOK)


def backend_for(client: Any, namespace: str, **env: str) -> KubernetesBackend:
    config = MLPlat(env={"MLP_USER": "ada", "MLP_NAMESPACE": namespace, **env})
    backend = KubernetesBackend(config, client=client)
    backend.progress_interval = 0.5
    return backend


def server_status(state: str, service: str = "", pod: str = "spark-ada-server") -> dict[str, Any]:
    """A status as the operator writes it."""
    server = {"podName": pod, "podIp": "10.0.0.7"} | ({"serviceName": service} if service else {})
    return {"state": state, "server": server, "executors": {"running": 1}}


class Operator(threading.Thread):
    """Plays the Spark Operator: once the SparkConnect exists, patches its status step by step."""

    def __init__(self, backend: KubernetesBackend, *steps: tuple[float, dict[str, Any]]) -> None:
        super().__init__(daemon=True)
        self.backend, self.steps = backend, steps
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            api, name, namespace = (
                ADMIN["api"],
                self.backend.resource_name,
                self.backend.namespace,
            )
            while not api.get(namespace=namespace, field_selector=f"metadata.name={name}").items:
                time.sleep(0.05)
            for delay, status in self.steps:
                time.sleep(delay)
                body = {"metadata": {"name": name}, "status": status}
                api.status.patch(body=body, namespace=namespace, content_type=MERGE)
        except BaseException as err:
            self.error = err

    def __enter__(self) -> Operator:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.join(10)
        if self.error:
            raise self.error


def collect_garbage(backend: KubernetesBackend) -> None:
    """Plays the garbage collector: the dependents are gone, lift the foreground finalizer."""
    body = {"metadata": {"name": backend.resource_name, "finalizers": None}}
    ADMIN["api"].patch(body=body, namespace=backend.namespace, content_type=MERGE)


def ours(client: Any, namespace: str, kind: str, api_version: str = "v1") -> list[Any]:
    resource = client.resources.get(api_version=api_version, kind=kind)
    return list(resource.get(namespace=namespace, label_selector=OUR_LABEL).items)


def timed(call: Callable[[], Any]) -> tuple[Any, float]:
    started = time.monotonic()
    return call(), time.monotonic() - started


def read(backend: KubernetesBackend) -> dict[str, Any]:
    found = backend._read()
    assert found is not None
    return found


def test_manifest_is_accepted_by_the_real_schema_without_pruning(
    spark_client, notebook, k8s_namespace
):
    backend = backend_for(
        notebook,
        k8s_namespace,
        MLP_SPARK_CONF="spark.sql.shuffle.partitions=64,spark.eventLog.enabled=true",
        MLP_SPARK_EXECUTORS_MIN="1",
        MLP_SPARK_EXECUTORS_MAX="8",
    )
    manifest = backend.manifest()
    created = backend.api.create(body=manifest, namespace=k8s_namespace, dry_run="All").to_dict()

    assert created["spec"] == manifest["spec"]  # a field unknown to the schema would be pruned
    spec = created["spec"]
    assert created["metadata"]["name"] == "spark-ada"
    assert created["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "jupyter-mlplat"
    assert spec["sparkVersion"] == "4.3.0"  # from the default image tag apache/spark:4.3.0
    assert spec["dynamicAllocation"] == {
        "enabled": True,
        "initialExecutors": 1,
        "minExecutors": 1,
        "maxExecutors": 8,
        "shuffleTrackingEnabled": True,
    }
    assert spec["sparkConf"] == {
        "spark.sql.shuffle.partitions": "64",
        "spark.eventLog.enabled": "true",
    }
    assert spec["server"]["template"]["spec"]["serviceAccountName"] == "spark"
    assert (spec["executor"]["cores"], spec["executor"]["memory"]) == (1, "2g")


def test_invalid_resource_is_rejected_with_the_api_message(spark_client, notebook, k8s_namespace):
    backend = backend_for(notebook, k8s_namespace, MLP_SPARK_EXECUTOR_CORES="0")
    with pytest.raises(InvalidInput) as raised:
        backend.endpoint(timeout=5)
    message = str(raised.value)
    assert "\n" not in message
    assert f"cannot create SparkConnect {k8s_namespace}/spark-ada" in message
    assert "spec.executor.cores" in message and "greater than or equal to 1" in message
    assert not ours(spark_client, k8s_namespace, "SparkConnect", "sparkoperator.k8s.io/v1alpha1")


def test_endpoint_waits_until_the_operator_says_ready(spark_client, notebook, k8s_namespace):
    backend = backend_for(notebook, k8s_namespace)
    assert backend.state()["state"] == "stopped"
    progress: list[str] = []
    with Operator(
        backend,
        # the states of spark-operator api/v1alpha1/sparkconnect_types.go, in order
        (0.2, server_status("Provisioning")),
        (0.3, server_status("NotReady")),
        (1.0, server_status("Ready", service="ada-connect")),
    ):
        endpoint, waited = timed(lambda: backend.endpoint(timeout=20, on_progress=progress.append))

    assert waited >= 1.2  # it waited for the operator (speed belongs in benchmarks)
    assert endpoint.remote == f"sc://ada-connect.{k8s_namespace}.svc.cluster.local:15002"
    assert endpoint.ui_url == f"http://ada-connect.{k8s_namespace}.svc.cluster.local:4040"
    assert endpoint.details["service_from"] == "status"
    assert progress[0].startswith("waiting for Spark session spark-ada (state New, 0 s)")
    assert any("state NotReady" in line for line in progress)
    assert backend.state()["operator_state"] == "Ready"
    state = backend.state()
    assert state["state"] == "ready"
    assert state["endpoint"] == endpoint.remote
    assert state["executors"] == {"running": 1}


def test_endpoint_falls_back_to_the_operators_service_name(spark_client, notebook, k8s_namespace):
    backend = backend_for(notebook, k8s_namespace)
    with Operator(backend, (0, server_status("Ready"))):
        endpoint = backend.endpoint(timeout=20)
    # the operator's own naming: spark-operator internal/controller/sparkconnect/util.go
    # GetServerServiceName ("<name>-server" unless spec.server.service names one) and
    # GetServerServiceHost ("<service>.<namespace>.svc.cluster.local")
    assert endpoint.remote == f"sc://spark-ada-server.{k8s_namespace}.svc.cluster.local:15002"
    assert endpoint.details["service_from"] == "convention"


def test_timeout_is_a_clear_unavailable(spark_client, notebook, k8s_namespace):
    backend = backend_for(notebook, k8s_namespace)
    with Operator(backend, (0, server_status("NotReady"))), pytest.raises(Unavailable) as raised:
        backend.endpoint(timeout=1)
    message = str(raised.value)
    assert message.startswith(f"Spark session {k8s_namespace}/spark-ada not ready after 1 s")
    assert "last state: NotReady" in message
    assert "\n" not in message


def test_a_failed_session_is_reported_at_once(spark_client, notebook, k8s_namespace):
    backend = backend_for(notebook, k8s_namespace)
    condition = {
        "type": "ServerPodReady",
        "status": "False",
        "reason": "ServerPodNotReady",
        "message": "Server pod is not ready: ImagePullBackOff",
        "lastTransitionTime": "2026-01-01T00:00:00Z",
    }
    failed = server_status("Failed") | {"conditions": [condition]}
    with Operator(backend, (0, failed)), pytest.raises(Unavailable) as raised:
        backend.endpoint(timeout=20)
    assert str(raised.value) == (
        f"Spark session {k8s_namespace}/spark-ada is Failed: Server pod is not ready: "
        "ImagePullBackOff; shut it down to start a new one"
    )
    assert backend.state()["state"] == "failed"


def test_a_second_kernel_reuses_the_session(spark_client, notebook, k8s_namespace):
    first, second = (backend_for(notebook, k8s_namespace) for _ in range(2))
    with Operator(first, (0, server_status("Ready", service="spark-ada-server"))):
        endpoint = first.endpoint(timeout=20)
    reused = second.endpoint(timeout=20)
    assert reused == endpoint
    kind = ("SparkConnect", "sparkoperator.k8s.io/v1alpha1")
    assert len(ours(spark_client, k8s_namespace, *kind)) == 1
    # the race: another kernel created it between our read and our create (409) -> read it
    assert second._create() == read(first)


def test_shutdown_deletes_everything_it_created(spark_client, notebook, k8s_namespace):
    backend = backend_for(notebook, k8s_namespace)
    with Operator(backend, (0, server_status("Ready"))):
        backend.endpoint(timeout=20)

    backend.shutdown()
    deleting = read(backend)
    assert deleting["metadata"]["finalizers"] == ["foregroundDeletion"]  # dependents first
    assert backend.state()["state"] == "terminating"
    collect_garbage(backend)

    for kind, api_version in [
        ("SparkConnect", "sparkoperator.k8s.io/v1alpha1"),
        ("ConfigMap", "v1"),
        ("Service", "v1"),
        ("Pod", "v1"),
        ("Secret", "v1"),
    ]:
        assert ours(spark_client, k8s_namespace, kind, api_version) == [], kind
    backend.shutdown()  # idempotent
    assert backend.state()["state"] == "stopped"


def test_endpoint_after_shutdown_waits_and_starts_a_new_session(
    spark_client, notebook, k8s_namespace
):
    backend = backend_for(notebook, k8s_namespace)
    with Operator(backend, (0, server_status("Ready"))):
        old = backend.endpoint(timeout=20)
    old_uid = read(backend)["metadata"]["uid"]
    backend.shutdown()

    def finish_deletion_then_start() -> None:
        time.sleep(0.5)
        collect_garbage(backend)
        with Operator(backend, (0.2, server_status("Ready"))):
            pass

    player = threading.Thread(target=finish_deletion_then_start, daemon=True)
    player.start()
    progress: list[str] = []
    new = backend.endpoint(timeout=20, on_progress=progress.append)
    player.join(10)
    assert new == old
    assert read(backend)["metadata"]["uid"] != old_uid
    assert "state Terminating" in progress[0]


def test_pod_template_file_is_merged(spark_client, notebook, k8s_namespace, tmp_path):
    template = tmp_path / "pod.yaml"
    template.write_text(
        """\
apiVersion: v1
kind: Pod
metadata:
  labels:
    team: search
    app.kubernetes.io/managed-by: someone-else
  annotations:
    sidecar.istio.io/inject: "false"
spec:
  nodeSelector:
    pool: spark
  tolerations:
    - {key: dedicated, operator: Equal, value: spark, effect: NoSchedule}
  containers:
    - name: spark-kubernetes-driver
      env: [{name: TZ, value: UTC}]
"""
    )
    backend = backend_for(notebook, k8s_namespace, MLP_SPARK_POD_TEMPLATE=str(template))
    with Operator(backend, (0, server_status("Ready"))):
        backend.endpoint(timeout=20)
    spec = read(backend)["spec"]

    for role in ("server", "executor"):
        pod = spec[role]["template"]
        assert pod["metadata"]["labels"] == {
            "app.kubernetes.io/managed-by": "jupyter-mlplat",  # ours win: listing needs them
            "jupyter-mlplat/user": "ada",
            "team": "search",
        }
        assert pod["metadata"]["annotations"] == {"sidecar.istio.io/inject": "false"}
        assert pod["spec"]["serviceAccountName"] == "spark"
        assert pod["spec"]["nodeSelector"] == {"pool": "spark"}
        assert pod["spec"]["tolerations"][0]["key"] == "dedicated"
        assert pod["spec"]["containers"][0]["env"] == [{"name": "TZ", "value": "UTC"}]


def test_api_errors_become_platform_errors(spark_client):
    backend = backend_for(spark_client, "no-such-namespace")
    expected = r'cannot create SparkConnect no-such-namespace/spark-ada: .*"no-such'
    with pytest.raises(NotFound, match=expected):
        backend.endpoint(timeout=5)
    assert backend.state() == {
        "state": "stopped",
        "name": "spark-ada",
        "namespace": "no-such-namespace",
    }


def test_rbac_the_notebook_account_gets_one_line_403s(spark_client, notebook, k8s_namespace):
    backend = backend_for(notebook, "kube-system")  # not the user's namespace
    with pytest.raises(Unavailable) as raised:
        backend.endpoint(timeout=5)
    assert str(raised.value) == (
        "cannot get SparkConnect kube-system/spark-ada: not allowed to get "
        "sparkconnects.sparkoperator.k8s.io in namespace kube-system (check the RBAC of the "
        "notebook's service account)"
    )
    state = backend.state()
    assert state["state"] == "unavailable" and state["error"] == str(raised.value)


def test_no_operator_watching_the_namespace_is_reported_after_a_short_wait(
    spark_client, notebook, k8s_namespace
):
    # the chart's default watches only `default` (charts/spark-operator-chart/values.yaml
    # spark.jobNamespaces): the SparkConnect then never gets a status
    backend = backend_for(notebook, k8s_namespace, MLP_SPARK_OPERATOR_WAIT="1")
    progress: list[str] = []
    with pytest.raises(Unavailable) as raised:
        backend.endpoint(timeout=300, on_progress=progress.append)
    assert str(raised.value) == (
        f"no Spark Operator is watching namespace {k8s_namespace}: SparkConnect spark-ada got "
        "no status in 1 s (see spawner_config/cluster/spark-operator-values.yaml)"
    )
    assert progress  # the wait was reported while it lasted
