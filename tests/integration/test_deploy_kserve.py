"""The KServe target against a real API server (kubelite) with KServe's InferenceService CRD.

kubelite has no controllers: a thread plays the KServe controller by patching ``status`` once
it sees a new generation. Model references are plain ``ModelRef`` values (no MLflow here).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.kserve import (
    GROUP,
    PLURAL,
    VERSION,
    KServeBackend,
    build_manifest,
    revision_name,
)
from jupyter_mlplat.deploy.models import Deployment, ModelRef, Revision
from jupyter_mlplat.errors import Conflict, InvalidInput, Unavailable

pytestmark = pytest.mark.integration

Respond = Callable[[dict[str, Any]], dict[str, Any] | None]


@pytest.fixture(scope="module")
def api_client(kubelite) -> Any:
    """A plain ``ApiClient`` for the session's server once the InferenceService CRD is ready."""
    from kubernetes import config

    kubelite.wait_for_crds("InferenceService")
    return config.new_client_from_config(config_file=str(kubelite.kubeconfig))


@pytest.fixture
def custom(api_client) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(api_client)


def backend_for(api_client: Any, namespace: str, mode: str, timeout: int = 10) -> KServeBackend:
    config = MLPlat(
        env={
            "MLP_USER": "ada",
            "MLP_NAMESPACE": namespace,
            "MLP_KSERVE_MODE": mode,
            "MLP_DEPLOY_READY_TIMEOUT": str(timeout),
        }
    )
    backend = KServeBackend(config, api_client=api_client)
    backend.progress_interval = 0.5
    return backend


def revision(version: str, traffic: int = 100) -> Revision:
    model = ModelRef(
        uri=f"models:/iris/{version}",
        name="iris",
        version=version,
        source=f"models:/m-{version}",
        storage_uri=f"s3://mlflow/artifacts/1/models/m-{version}/artifacts",
    )
    return Revision(model, traffic)


def record(stable: Revision, canary: Revision | None = None, name: str = "iris") -> Deployment:
    return Deployment(name, "ada", "kserve", stable, canary)


def ready(found: dict[str, Any]) -> dict[str, Any]:
    """A status as KServe writes it once every predictor of the spec is ready."""
    name, namespace = found["metadata"]["name"], found["metadata"]["namespace"]
    spec = found["spec"]
    canaries = [
        {"name": c["predictor"]["name"], "ready": True, "trafficPercent": c["trafficPercent"]}
        for c in spec.get("canary") or []
    ]
    generation = found["metadata"]["generation"]
    return {
        "observedGeneration": generation,
        "url": f"http://{name}.{namespace}.example.com",
        "address": {"url": f"http://{name}-predictor.{namespace}.svc.cluster.local"},
        "conditions": [{"type": "Ready", "status": "True", "lastTransitionTime": _now()}],
        "components": {"predictor": {"latestReadyRevision": f"{name}-predictor-{generation:05}"}},
        "canaryStatuses": canaries or None,  # None: a merge patch removes the old list
    }


def failed(found: dict[str, Any]) -> dict[str, Any]:
    condition = {
        "type": "Ready",
        "status": "False",
        "reason": "RevisionFailed",
        "message": "Revision iris-predictor-00002 failed with message: model load error.",
        "lastTransitionTime": _now(),
    }
    generation = found["metadata"]["generation"]
    return {"observedGeneration": generation, "conditions": [condition]}


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


class Controller(threading.Thread):
    """Plays KServe: answers each new generation of one InferenceService with ``respond``."""

    def __init__(self, custom: Any, namespace: str, name: str, respond: Respond) -> None:
        super().__init__(daemon=True)
        self.custom, self.namespace, self.name, self.respond = custom, namespace, name, respond
        self.stopping = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        from kubernetes.client.exceptions import ApiException

        seen = None
        try:
            while not self.stopping.wait(0.05):
                try:
                    found = self.custom.get_namespaced_custom_object(
                        GROUP, VERSION, self.namespace, PLURAL, self.name
                    )
                except ApiException as err:
                    if err.status == 404:
                        continue
                    raise
                generation = found["metadata"]["generation"]
                if generation == seen:
                    continue
                seen = generation
                status = self.respond(found)
                if status is not None:
                    self.custom.patch_namespaced_custom_object_status(
                        GROUP, VERSION, self.namespace, PLURAL, self.name, {"status": status}
                    )
        except BaseException as err:
            self.error = err

    def __enter__(self) -> Controller:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stopping.set()
        self.join(10)
        if self.error:
            raise self.error


@pytest.fixture
def controller(custom, k8s_namespace) -> Iterator[Callable[[Respond], Controller]]:
    started: list[Controller] = []

    def start(respond: Respond, name: str = "iris") -> Controller:
        running = Controller(custom, k8s_namespace, name, respond)
        running.start()
        started.append(running)
        return running

    yield start
    for running in started:
        running.__exit__()


def read(custom: Any, namespace: str, name: str = "iris") -> dict[str, Any]:
    return dict(custom.get_namespaced_custom_object(GROUP, VERSION, namespace, PLURAL, name))


def no_progress(step: str, fraction: float) -> None:
    pass


@pytest.mark.parametrize("mode", ["serverless", "standard"])
def test_the_upstream_schema_accepts_both_modes_without_pruning(api_client, custom, k8s_namespace,
                                                                mode):  # fmt: skip
    config = backend_for(api_client, k8s_namespace, mode).config
    for deployment in (record(revision("3")), record(revision("3"), revision("4", 10))):
        manifest = build_manifest(deployment, None, mode, config)
        created = custom.create_namespaced_custom_object(
            GROUP, VERSION, k8s_namespace, PLURAL, manifest, dry_run="All"
        )
        assert created["spec"] == manifest["spec"]  # a field unknown to the schema is pruned
        assert created["metadata"]["annotations"] == manifest["metadata"]["annotations"]


def test_serverless_canary_promote_and_rollback(api_client, custom, k8s_namespace, controller):
    backend = backend_for(api_client, k8s_namespace, "serverless")
    controller(ready)
    steps: list[str] = []

    v3 = backend.apply(record(revision("3")), None, lambda step, _: steps.append(step))
    assert (v3.state, v3.endpoint) == ("ready", f"http://iris.{k8s_namespace}.example.com")
    assert v3.details["mode"] == "serverless"
    assert steps[0].startswith("reading") and steps[-1] == "ready"
    assert any("creating InferenceService iris (serverless mode)" in s for s in steps)

    canary = backend.apply(record(revision("3"), revision("4", 20)), v3, no_progress)
    predictor = read(custom, k8s_namespace)["spec"]["predictor"]
    assert predictor["model"]["storageUri"].endswith("m-4/artifacts")
    assert predictor["canaryTrafficPercent"] == 20
    assert canary.state == "ready"

    promoted = backend.apply(record(revision("4")), canary, no_progress)
    found = read(custom, k8s_namespace)
    assert "canaryTrafficPercent" not in found["spec"]["predictor"]
    assert found["spec"]["predictor"]["model"]["storageUri"].endswith("m-4/artifacts")
    assert found["metadata"]["annotations"]["mlplat.io/model-version"] == "4"
    assert "mlplat.io/canary-version" not in found["metadata"]["annotations"]

    back = backend.apply(record(revision("3")), promoted, no_progress)
    found = read(custom, k8s_namespace)
    assert found["spec"]["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")
    assert "canaryTrafficPercent" not in found["spec"]["predictor"]
    assert back.state == "ready"

    # a canary rolled back: 0 % pins all traffic to the rolled-out revision at once
    canary = backend.apply(record(revision("3"), revision("5", 10)), back, no_progress)
    backend.apply(record(revision("3")), canary, no_progress)
    predictor = read(custom, k8s_namespace)["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 0
    assert predictor["model"]["storageUri"].endswith("m-5/artifacts")


def test_standard_canary_promote_and_rollback(api_client, custom, k8s_namespace, controller):
    backend = backend_for(api_client, k8s_namespace, "standard")
    controller(ready)
    v3 = backend.apply(record(revision("3")), None, no_progress)
    found = read(custom, k8s_namespace)
    assert found["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert found["spec"]["predictor"]["name"] == revision_name(revision("3"))

    canary = backend.apply(record(revision("3"), revision("4", 30)), v3, no_progress)
    spec = read(custom, k8s_namespace)["spec"]
    assert "canaryTrafficPercent" not in spec["predictor"]
    assert spec["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")
    [entry] = spec["canary"]
    assert entry["trafficPercent"] == 30
    assert entry["predictor"]["name"] == revision_name(revision("4"))
    assert canary.details["canary_statuses"][0]["trafficPercent"] == 30

    promoted = backend.apply(record(revision("4")), canary, no_progress)
    spec = read(custom, k8s_namespace)["spec"]
    assert "canary" not in spec
    assert spec["predictor"]["name"] == entry["predictor"]["name"]  # the canary's Deployment
    assert promoted.state == "ready"

    backend.apply(record(revision("3")), promoted, no_progress)
    spec = read(custom, k8s_namespace)["spec"]
    assert spec["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")
    assert "canary" not in spec


@pytest.mark.parametrize("mode", ["serverless", "standard"])
def test_a_failed_rollout_restores_the_previous_spec(api_client, custom, k8s_namespace,
                                                     controller, mode):  # fmt: skip
    backend = backend_for(api_client, k8s_namespace, mode)
    controller(lambda found: failed(found) if found["metadata"]["generation"] > 1 else ready(found))
    v3 = backend.apply(record(revision("3")), None, no_progress)
    before = read(custom, k8s_namespace)

    with pytest.raises(Unavailable) as raised:
        backend.apply(record(revision("3"), revision("4", 20)), v3, no_progress)
    message = str(raised.value)
    assert "\n" not in message
    assert message == (
        f"InferenceService {k8s_namespace}/iris failed: Revision iris-predictor-00002 failed "
        "with message: model load error.; restored the previous version"
    )
    after = read(custom, k8s_namespace)
    assert after["spec"] == before["spec"]
    assert after["metadata"]["annotations"] == before["metadata"]["annotations"]


def test_a_rollout_that_never_gets_ready_is_removed(api_client, custom, k8s_namespace):
    from kubernetes.client.exceptions import ApiException

    backend = backend_for(api_client, k8s_namespace, "serverless", timeout=1)
    started = time.monotonic()
    with pytest.raises(Unavailable) as raised:  # nobody plays the controller
        backend.apply(record(revision("3")), None, no_progress)
    assert time.monotonic() - started < 4
    assert str(raised.value) == (
        f"InferenceService {k8s_namespace}/iris not ready after 1 s (the KServe controller has "
        "not seen this version yet); removed it"
    )
    with pytest.raises(ApiException) as gone:
        read(custom, k8s_namespace)
    assert gone.value.status == 404


def test_a_foreign_object_with_the_same_name_is_a_conflict(api_client, custom, k8s_namespace):
    backend = backend_for(api_client, k8s_namespace, "serverless")
    foreign = build_manifest(record(revision("1")), None, "serverless", backend.config)
    foreign["metadata"]["labels"] = {"team": "other"}
    custom.create_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, foreign)
    with pytest.raises(Conflict) as raised:
        backend.apply(record(revision("3")), None, no_progress)
    assert str(raised.value) == (
        f"an InferenceService named iris already exists in {k8s_namespace} and is not managed "
        "by jupyter-mlplat"
    )
    with pytest.raises(Conflict):
        backend.delete(record(revision("3")))
    assert read(custom, k8s_namespace)["spec"] == foreign["spec"]  # untouched

    others = backend_for(api_client, k8s_namespace, "serverless")
    theirs = build_manifest(record(revision("1"), name="theirs"), None, "serverless", others.config)
    theirs["metadata"]["labels"]["mlplat.io/owner"] = "bob"
    custom.create_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, theirs)
    with pytest.raises(Conflict, match="theirs belongs to another user"):
        backend.apply(record(revision("3"), name="theirs"), None, no_progress)


def test_an_invalid_spec_is_rejected_with_the_api_message(api_client, custom, k8s_namespace,
                                                          controller):  # fmt: skip
    from kubernetes.client.exceptions import ApiException

    backend = backend_for(api_client, k8s_namespace, "standard")
    too_much = revision("4", traffic=150)  # below the service's validation, as a bug would
    with pytest.raises(InvalidInput) as raised:
        backend.apply(record(revision("3"), too_much), None, no_progress)
    message = str(raised.value)
    assert message.startswith(f"cannot create InferenceService {k8s_namespace}/iris: ")
    assert "spec.canary[0].trafficPercent" in message and "100" in message
    assert "\n" not in message
    with pytest.raises(ApiException):
        read(custom, k8s_namespace)  # nothing created

    controller(ready)
    v3 = backend.apply(record(revision("3")), None, no_progress)
    before = read(custom, k8s_namespace)
    with pytest.raises(InvalidInput, match="cannot update InferenceService"):
        backend.apply(record(revision("3"), too_much), v3, no_progress)
    after = read(custom, k8s_namespace)
    assert after["metadata"]["resourceVersion"] == before["metadata"]["resourceVersion"]


def test_status_delete_and_restore(api_client, custom, k8s_namespace, controller):
    backend = backend_for(api_client, k8s_namespace, "serverless")
    controller(ready)
    deployed = backend.apply(record(revision("3")), None, no_progress)
    [restored] = backend.restore([record(revision("3"))])
    assert (restored.state, restored.endpoint) == ("ready", deployed.endpoint)

    backend.delete(deployed)
    backend.delete(deployed)  # idempotent
    gone = backend.status(record(revision("3")))
    assert gone.state == "failed" and "is gone" in gone.message


def test_auto_mode_reads_the_kserve_config_else_discovery(api_client, k8s_namespace):
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(api_client)
    try:
        core.create_namespace({"metadata": {"name": "kserve"}})
    except ApiException as err:
        assert err.status == 409
    # no ConfigMap, no Knative Serving API group: Standard (KServe's default since 0.15)
    assert backend_for(api_client, k8s_namespace, "auto").mode() == "standard"
    config_map = {
        "metadata": {"name": "inferenceservice-config"},
        "data": {"deploy": '{"defaultDeploymentMode": "Serverless"}'},
    }
    core.create_namespaced_config_map("kserve", config_map)
    try:
        assert backend_for(api_client, k8s_namespace, "auto").mode() == "serverless"
        assert backend_for(api_client, k8s_namespace, "standard").mode() == "standard"
    finally:
        core.delete_namespaced_config_map("inferenceservice-config", "kserve")


def test_an_unreachable_api_server_is_unavailable(k8s_namespace):
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = "https://127.0.0.1:1"
    configuration.retries = 0
    backend = backend_for(client.ApiClient(configuration), k8s_namespace, "serverless")
    with pytest.raises(Unavailable, match="Kubernetes API unreachable"):
        backend.apply(record(revision("3")), None, no_progress)
