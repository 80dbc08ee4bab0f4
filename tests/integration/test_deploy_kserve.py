"""The KServe target against a real API server (kubelite, RBAC enforced) with KServe's CRD.

The backend runs as the user's notebook service account with the Roles the spawner gives it
(``spawner_config/rbac/user-roles.yaml``): 403 wherever it must not reach. kubelite has no
controllers and no admission webhooks: a thread plays the KServe controller (as the admin) by
patching ``status`` once it sees a new generation, and the tests hold each object to the rules
KServe v0.20.0 enforces or acts on, citing the upstream file. The REST API (as the lab's Deploy
button calls it) is driven in tests/integration/test_deploy_kserve_rest.py.
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
)
from jupyter_mlplat.deploy.models import Deployment, ModelRef, Revision
from jupyter_mlplat.errors import Conflict, InvalidInput, Unavailable
from tests.support.user_namespace import NOTEBOOK, set_up_user_namespace

pytestmark = pytest.mark.integration

Respond = Callable[[dict[str, Any]], dict[str, Any] | None]


@pytest.fixture(scope="module")
def admin_client(kubelite) -> Any:
    """The admin's ``ApiClient`` (plays KServe) once the InferenceService CRD is ready."""
    kubelite.wait_for_crds("InferenceService")
    return kubelite.api_client()


@pytest.fixture
def api_client(kubelite, admin_client, k8s_namespace) -> Any:
    """The notebook's service account in a namespace set up as the spawner does."""
    set_up_user_namespace(kubelite, k8s_namespace)
    return kubelite.api_client(act_as=f"system:serviceaccount:{k8s_namespace}:{NOTEBOOK}")


@pytest.fixture
def custom(admin_client) -> Any:
    from kubernetes import client

    return client.CustomObjectsApi(admin_client)


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


def predictor_service(found: dict[str, Any]) -> str:
    """The stable predictor's Service / host as KServe names it: pkg/constants/constants.go
    PredictorServiceName(isvc.Name, isvc.Spec.Predictor.Name)."""
    named = found["spec"]["predictor"].get("name")
    name = found["metadata"]["name"]
    return f"{name}-{named}-predictor" if named else f"{name}-predictor"


def pod_metadata(found: dict[str, Any]) -> tuple[dict[str, str], dict[str, str]]:
    """What KServe copies into the predictor pods' template: the InferenceService's labels and
    annotations (components/predictor.go buildObjectMeta; reconcilers/deployment/
    deployment_reconciler.go createRawDefaultDeployment uses it as the pod template's
    metadata; the Knative revision template likewise). A change there restarts the pods."""
    metadata = found["metadata"]
    return metadata.get("labels") or {}, metadata.get("annotations") or {}


def check_webhook_rules(found: dict[str, Any]) -> None:
    """KServe v0.20's validating webhook (pkg/apis/serving/v1beta1/
    inference_service_validation.go), the parts our objects touch."""
    spec, annotations = found["spec"], found["metadata"].get("annotations") or {}
    # validatePredictor: no 'name' in a standard predictor's model
    assert "name" not in (spec["predictor"].get("model") or {})
    # validateCanarySpecs: spec.canary only with deploymentMode exactly "Standard"
    if spec.get("canary"):
        assert annotations.get("serving.kserve.io/deploymentMode") == "Standard"
    # constants.go: Knative / Standard (Serverless / RawDeployment are deprecated aliases)
    assert annotations.get("serving.kserve.io/deploymentMode") in ("Knative", "Standard")


@pytest.mark.parametrize("mode", ["Knative", "Standard"])
def test_the_upstream_schema_accepts_both_modes_without_pruning(api_client, custom, k8s_namespace,
                                                                mode):  # fmt: skip
    config = backend_for(api_client, k8s_namespace, mode).config
    records = [record(revision("3"))]
    if mode == "Knative":
        records.append(record(revision("3"), revision("4", 10)))
    for deployment in records:
        manifest = build_manifest(deployment, None, mode, config)
        created = custom.create_namespaced_custom_object(
            GROUP, VERSION, k8s_namespace, PLURAL, manifest, dry_run="All"
        )
        assert created["spec"] == manifest["spec"]  # a field unknown to the schema is pruned
        assert created["metadata"]["annotations"] == manifest["metadata"]["annotations"]
        check_webhook_rules(created)


def test_knative_canary_promote_and_rollback(api_client, custom, k8s_namespace, controller):
    backend = backend_for(api_client, k8s_namespace, "Knative")
    controller(ready)
    steps: list[str] = []

    v3 = backend.apply(record(revision("3")), None, lambda step, _: steps.append(step))
    assert (v3.state, v3.endpoint) == ("ready", f"http://iris.{k8s_namespace}.example.com")
    assert v3.details["mode"] == "Knative"
    assert v3.details["canary_routing"] == "weighted"
    assert steps[0].startswith("reading") and steps[-1] == "ready"
    assert any("creating InferenceService iris (Knative mode)" in s for s in steps)
    first = read(custom, k8s_namespace)
    seen = [first]

    canary = backend.apply(record(revision("3"), revision("4", 20)), v3, no_progress)
    seen.append(read(custom, k8s_namespace))
    predictor = seen[-1]["spec"]["predictor"]
    assert predictor["model"]["storageUri"].endswith("m-4/artifacts")
    assert predictor["canaryTrafficPercent"] == 20
    assert canary.state == "ready"

    promoted = backend.apply(record(revision("4")), canary, no_progress)
    seen.append(read(custom, k8s_namespace))
    assert "canaryTrafficPercent" not in seen[-1]["spec"]["predictor"]
    assert seen[-1]["spec"]["predictor"]["model"]["storageUri"].endswith("m-4/artifacts")

    back = backend.apply(record(revision("3")), promoted, no_progress)
    seen.append(read(custom, k8s_namespace))
    assert seen[-1]["spec"]["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")
    assert "canaryTrafficPercent" not in seen[-1]["spec"]["predictor"]
    assert back.state == "ready"

    # a canary rolled back: 0 % pins all traffic to the rolled-out revision at once
    canary = backend.apply(record(revision("3"), revision("5", 10)), back, no_progress)
    backend.apply(record(revision("3")), canary, no_progress)
    seen.append(read(custom, k8s_namespace))
    predictor = seen[-1]["spec"]["predictor"]
    assert predictor["canaryTrafficPercent"] == 0
    assert predictor["model"]["storageUri"].endswith("m-5/artifacts")

    for found in seen:
        check_webhook_rules(found)
        assert predictor_service(found) == "iris-predictor"  # the host never changes
        assert pod_metadata(found) == pod_metadata(first)  # no rollout restarts pods by itself


def test_standard_replace_and_rollback_and_no_canary(api_client, custom, k8s_namespace,
                                                     controller):  # fmt: skip
    backend = backend_for(api_client, k8s_namespace, "Standard")
    controller(ready)
    v3 = backend.apply(record(revision("3")), None, no_progress)
    first = read(custom, k8s_namespace)
    assert first["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Standard"
    assert v3.details["canary_routing"] == "none"

    # v0.20 routes all traffic to the stable predictor (reconcilers/ingress/
    # kube_ingress_reconciler.go createAddress, httproute_reconciler.go): a canary is refused
    # before anything is sent
    with pytest.raises(InvalidInput) as raised:
        backend.apply(record(revision("3"), revision("4", 30)), v3, no_progress)
    assert "Standard mode sends no traffic to a canary" in str(raised.value)
    assert (
        read(custom, k8s_namespace)["metadata"]["resourceVersion"]
        == (first["metadata"]["resourceVersion"])
    )

    v4 = backend.apply(record(revision("4")), v3, no_progress)
    replaced = read(custom, k8s_namespace)
    assert replaced["spec"]["predictor"]["model"]["storageUri"].endswith("m-4/artifacts")
    backend.apply(record(revision("3")), v4, no_progress)
    back = read(custom, k8s_namespace)
    assert back["spec"]["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")
    for found in (first, replaced, back):
        check_webhook_rules(found)
        assert "canary" not in found["spec"]
        assert predictor_service(found) == "iris-predictor"
        assert pod_metadata(found) == pod_metadata(first)


@pytest.mark.parametrize("mode", ["Knative", "Standard"])
def test_a_failed_rollout_restores_the_previous_spec(api_client, custom, k8s_namespace,
                                                     controller, mode):  # fmt: skip
    backend = backend_for(api_client, k8s_namespace, mode)
    controller(lambda found: failed(found) if found["metadata"]["generation"] > 1 else ready(found))
    v3 = backend.apply(record(revision("3")), None, no_progress)
    before = read(custom, k8s_namespace)

    with pytest.raises(Unavailable) as raised:
        backend.apply(record(revision("4")), v3, no_progress)
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

    backend = backend_for(api_client, k8s_namespace, "Knative", timeout=1)
    with pytest.raises(Unavailable) as raised:  # nobody plays the controller
        backend.apply(record(revision("3")), None, no_progress)
    assert str(raised.value) == (
        f"InferenceService {k8s_namespace}/iris not ready after 1 s (the KServe controller has "
        "not seen this version yet); removed it"
    )
    with pytest.raises(ApiException) as gone:
        read(custom, k8s_namespace)
    assert gone.value.status == 404


def test_a_foreign_object_with_the_same_name_is_a_conflict(api_client, custom, k8s_namespace):
    backend = backend_for(api_client, k8s_namespace, "Knative")
    foreign = build_manifest(record(revision("1")), None, "Knative", backend.config)
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

    others = backend_for(api_client, k8s_namespace, "Knative")
    theirs = build_manifest(record(revision("1"), name="theirs"), None, "Knative", others.config)
    theirs["metadata"]["labels"]["mlplat.io/owner"] = "bob"
    custom.create_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, theirs)
    with pytest.raises(Conflict, match="theirs belongs to another user"):
        backend.apply(record(revision("3"), name="theirs"), None, no_progress)


def test_an_invalid_spec_is_rejected_with_the_api_message(api_client, custom, k8s_namespace):
    from kubernetes.client.exceptions import ApiException

    backend = backend_for(api_client, k8s_namespace, "Knative")
    manifest = build_manifest(record(revision("3")), None, "Knative", backend.config)
    manifest["spec"]["predictor"]["model"]["modelFormat"] = {}  # as a bug would
    with pytest.raises(InvalidInput) as raised:
        backend._create(manifest)
    message = str(raised.value)
    assert message.startswith(f"cannot create InferenceService {k8s_namespace}/iris: ")
    assert "spec.predictor.model.modelFormat.name" in message  # the API's first cause
    assert "\n" not in message
    with pytest.raises(ApiException):
        read(custom, k8s_namespace)  # nothing created


def test_changed_while_updating_is_a_conflict(api_client, custom, k8s_namespace, controller):
    backend = backend_for(api_client, k8s_namespace, "Knative")
    controller(ready)
    v3 = backend.apply(record(revision("3")), None, no_progress)
    reads = backend._read

    def read_then_someone_writes(name: str) -> dict[str, Any] | None:
        found = reads(name)
        patch = {"metadata": {"labels": {"team": "other-tool"}}}
        custom.patch_namespaced_custom_object(GROUP, VERSION, k8s_namespace, PLURAL, name, patch)
        return found

    backend._read = read_then_someone_writes  # type: ignore[method-assign]
    with pytest.raises(Conflict) as raised:
        backend.apply(record(revision("4")), v3, no_progress)
    assert str(raised.value) == (
        f"InferenceService {k8s_namespace}/iris changed while it was being updated; try again"
    )
    found = read(custom, k8s_namespace)
    assert found["spec"]["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")


def test_rbac_the_notebook_account_gets_one_line_403s(kubelite, api_client, k8s_namespace):
    # the notebook's account reaches its own namespace only
    elsewhere = backend_for(api_client, "kube-system", "Knative")
    with pytest.raises(Unavailable) as raised:
        elsewhere.apply(record(revision("3")), None, no_progress)
    assert str(raised.value) == (
        "cannot get InferenceService kube-system/iris: not allowed to get "
        "inferenceservices.serving.kserve.io in namespace kube-system (check the RBAC of the "
        "notebook's service account)"
    )
    # and has no Role at all in a namespace the spawner did not set up
    stranger = kubelite.api_client(act_as="system:serviceaccount:nobody:mlplat-notebook")
    with pytest.raises(Unavailable, match="check the RBAC of the notebook's service account"):
        backend_for(stranger, k8s_namespace, "Knative").apply(
            record(revision("3")), None, no_progress
        )


def test_status_delete_and_restore(api_client, custom, k8s_namespace, controller):
    backend = backend_for(api_client, k8s_namespace, "Knative")
    controller(ready)
    deployed = backend.apply(record(revision("3")), None, no_progress)
    [restored] = backend.restore([record(revision("3"))])
    assert (restored.state, restored.endpoint) == ("ready", deployed.endpoint)

    backend.delete(deployed)
    backend.delete(deployed)  # idempotent
    gone = backend.status(record(revision("3")))
    assert gone.state == "failed" and "is gone" in gone.message


def test_auto_mode_reads_the_kserve_config_else_kserves_default(admin_client, api_client,
                                                                k8s_namespace):  # fmt: skip
    from kubernetes import client
    from kubernetes.client.exceptions import ApiException

    core = client.CoreV1Api(admin_client)
    try:
        core.create_namespace({"metadata": {"name": "kserve"}})
    except ApiException as err:
        assert err.status == 409
    # no ConfigMap: KServe's own default (pkg/constants/constants.go DefaultDeployment)
    assert backend_for(admin_client, k8s_namespace, "auto").mode() == "Standard"
    config_map = {
        "metadata": {"name": "inferenceservice-config"},
        "data": {"deploy": '{"defaultDeploymentMode": "Serverless"}'},  # a deprecated alias
    }
    core.create_namespaced_config_map("kserve", config_map)
    try:
        assert backend_for(admin_client, k8s_namespace, "auto").mode() == "Knative"
        assert backend_for(admin_client, k8s_namespace, "Standard").mode() == "Standard"
        # the notebook's account may not read KServe's namespace (403): KServe's default
        assert backend_for(api_client, k8s_namespace, "auto").mode() == "Standard"
    finally:
        core.delete_namespaced_config_map("inferenceservice-config", "kserve")


def test_names_too_long_for_kserves_services_are_refused_up_front(api_client, custom,
                                                                   k8s_namespace):  # fmt: skip
    from kubernetes.client.exceptions import ApiException

    backend = backend_for(api_client, k8s_namespace, "Knative")
    name = "m" * 54
    with pytest.raises(InvalidInput, match="too long for KServe"):
        backend.check(record(revision("3"), name=name))
    with pytest.raises(InvalidInput, match="too long for KServe"):
        backend.apply(record(revision("3"), name=name), None, no_progress)
    with pytest.raises(ApiException):
        read(custom, k8s_namespace, name)


def test_an_unreachable_api_server_is_unavailable(k8s_namespace):
    from kubernetes import client

    configuration = client.Configuration()
    configuration.host = "https://127.0.0.1:1"
    configuration.retries = 0
    backend = backend_for(client.ApiClient(configuration), k8s_namespace, "Knative")
    with pytest.raises(Unavailable, match="Kubernetes API unreachable"):
        backend.apply(record(revision("3")), None, no_progress)


def test_a_stalled_api_server_fails_in_one_line_and_applies_nothing(k8s_namespace, monkeypatch):
    """An API server that accepts the connection and never answers: the request times out."""
    import socket

    from kubernetes import client

    from jupyter_mlplat.infra import kube

    monkeypatch.setattr(kube, "READ_TIMEOUT", 2.0)
    with socket.socket() as stalled:
        stalled.bind(("127.0.0.1", 0))
        stalled.listen(8)  # connections queue in the backlog; nobody reads them
        configuration = client.Configuration()
        configuration.host = f"http://127.0.0.1:{stalled.getsockname()[1]}"
        configuration.retries = 0
        backend = backend_for(client.ApiClient(configuration), k8s_namespace, "Knative")
        started = time.monotonic()
        with pytest.raises(Unavailable, match="Kubernetes API unreachable") as err:
            backend.apply(record(revision("3")), None, no_progress)
    assert time.monotonic() - started < 30
    assert "\n" not in str(err.value)
