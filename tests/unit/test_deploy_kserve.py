"""KServe target, pure parts: manifests in both modes, canary/promote/rollback specs, status.

The same objects go to a real API server with KServe's CRD in tests/integration.
"""

from __future__ import annotations

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.kserve import (
    build_manifest,
    check_name_fits,
    merged_for_replace,
    mode_of,
    readiness,
)
from jupyter_mlplat.deploy.models import Deployment, ModelRef, Revision
from jupyter_mlplat.errors import InvalidInput

CONFIG = MLPlat(env={"MLP_NAMESPACE": "team-a", "MLP_KSERVE_SERVICE_ACCOUNT": "models-sa"})


def revision(version: str, traffic: int = 100, scheme: str = "s3://") -> Revision:
    model = ModelRef(
        uri=f"models:/iris/{version}",
        name="iris",
        version=version,
        source=f"models:/m-{version}",
        storage_uri=f"{scheme}mlflow/artifacts/1/models/m-{version}/artifacts",
    )
    return Revision(model, traffic)


def deployment(stable: Revision, canary: Revision | None = None) -> Deployment:
    return Deployment("iris", "Ada@example.org", "kserve", stable, canary)


def test_a_first_deployment_serves_the_mlflow_model_over_v2_with_the_service_account():
    for mode in ("Knative", "Standard"):
        manifest = build_manifest(deployment(revision("3")), None, mode, CONFIG)
        assert manifest["apiVersion"] == "serving.kserve.io/v1beta1"
        assert manifest["kind"] == "InferenceService"
        metadata = manifest["metadata"]
        assert (metadata["name"], metadata["namespace"]) == ("iris", "team-a")
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "jupyter-mlplat"
        assert metadata["labels"]["mlplat.io/owner"].startswith("ada-example-org-")  # a label
        # mode values of pkg/constants/constants.go (Serverless/RawDeployment are deprecated)
        assert metadata["annotations"] == {
            "serving.kserve.io/deploymentMode": mode,
            "mlplat.io/owner": "Ada@example.org",
        }
        predictor = manifest["spec"]["predictor"]
        assert predictor["serviceAccountName"] == "models-sa"
        # no model.name: inference_service_validation.go (validatePredictor) refuses "the
        # 'name' field ... in standard predictor"
        assert predictor["model"] == {
            "modelFormat": {"name": "mlflow"},
            "protocolVersion": "v2",
            "storageUri": "s3://mlflow/artifacts/1/models/m-3/artifacts",
        }
        assert "name" not in predictor  # the Service stays {name}-predictor
        assert "canaryTrafficPercent" not in predictor
        assert "canary" not in manifest["spec"]


def predictor_service(manifest: dict) -> str:
    """The Service (and host) KServe derives for the stable predictor: pkg/constants/
    constants.go PredictorServiceName(isvc.Name, isvc.Spec.Predictor.Name)."""
    named = manifest["spec"]["predictor"].get("name")
    name = manifest["metadata"]["name"]
    return f"{name}-{named}-predictor" if named else f"{name}-predictor"


def pod_template_metadata(manifest: dict) -> tuple[dict, dict]:
    """What KServe copies into the predictor's pod template (components/predictor.go
    buildObjectMeta: the InferenceService's labels and annotations): a change rolls pods."""
    return manifest["metadata"]["labels"], manifest["metadata"]["annotations"]


def test_knative_canary_promote_and_rollbacks_keep_host_and_pods():
    v3, v4 = revision("3"), revision("4")
    stable_only = deployment(v3)
    canary = deployment(v3, revision("4", traffic=20))

    first = build_manifest(stable_only, None, "Knative", CONFIG)
    spec = build_manifest(canary, stable_only, "Knative", CONFIG)
    predictor = spec["spec"]["predictor"]
    # KServe keeps the rolled-out revision (v3) as stable: the spec names the new one
    assert predictor["model"]["storageUri"].endswith("m-4/artifacts")
    assert predictor["canaryTrafficPercent"] == 20
    assert "canary" not in spec["spec"]  # spec.canary is Standard-only (validateCanarySpecs)

    promoted_manifest = build_manifest(deployment(v4), canary, "Knative", CONFIG)
    promoted = promoted_manifest["spec"]["predictor"]
    assert promoted["model"]["storageUri"].endswith("m-4/artifacts")
    assert "canaryTrafficPercent" not in promoted

    # dropping the canary: all traffic back to the rolled-out revision at once, no restart
    dropped_manifest = build_manifest(stable_only, canary, "Knative", CONFIG)
    dropped = dropped_manifest["spec"]["predictor"]
    assert dropped["model"]["storageUri"].endswith("m-4/artifacts")
    assert dropped["canaryTrafficPercent"] == 0

    # after a promote: the previous storage URI again (Knative keeps v4 until v3 is ready)
    back = build_manifest(deployment(v3), deployment(v4), "Knative", CONFIG)
    assert back["spec"]["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")
    assert "canaryTrafficPercent" not in back["spec"]["predictor"]

    every = [first, spec, promoted_manifest, dropped_manifest, back]
    assert {predictor_service(m) for m in every} == {"iris-predictor"}
    assert all(pod_template_metadata(m) == pod_template_metadata(first) for m in every)


def test_standard_mode_refuses_a_canary_it_would_send_no_traffic_to():
    # v0.20: the Ingress/HTTPRoute points at the stable predictor only
    # (reconcilers/ingress/kube_ingress_reconciler.go createAddress, httproute_reconciler.go);
    # spec.canary[].trafficPercent only sizes the canary's replicas
    # (components/predictor.go canaryReplicaCount)
    with pytest.raises(InvalidInput) as raised:
        build_manifest(deployment(revision("3"), revision("4", 20)), None, "Standard", CONFIG)
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("KServe's Standard mode sends no traffic to a canary")
    assert "deploy without a canary" in message and "Knative mode" in message

    v3, v4 = revision("3"), revision("4")
    replaced = build_manifest(deployment(v4), deployment(v3), "Standard", CONFIG)
    rolled_back = build_manifest(deployment(v3), deployment(v4), "Standard", CONFIG)
    assert replaced["spec"]["predictor"]["model"]["storageUri"].endswith("m-4/artifacts")
    assert rolled_back["spec"]["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")
    assert predictor_service(replaced) == predictor_service(rolled_back) == "iris-predictor"
    assert pod_template_metadata(replaced) == pod_template_metadata(rolled_back)


def test_names_must_fit_the_63_character_predictor_service():
    assert check_name_fits("a" * 53) == "a" * 53
    with pytest.raises(InvalidInput) as raised:
        check_name_fits("a" * 54)
    assert str(raised.value) == (
        f"deployment name {'a' * 54!r} is too long for KServe: its Service "
        f"{'a' * 54 + '-predictor'!r} would have 64 characters (at most 63); use at most 53"
    )


@pytest.mark.parametrize("scheme", ["file:///srv/", "mlflow-artifacts:/", "models:/", ""])
def test_storage_kserve_cannot_load_is_refused_before_any_call(scheme):
    with pytest.raises(InvalidInput, match="KServe cannot load models:/iris/3"):
        build_manifest(deployment(revision("3", scheme=scheme)), None, "Knative", CONFIG)


def test_replace_keeps_foreign_metadata_and_guards_with_the_resource_version():
    current = {
        "metadata": {
            "name": "iris",
            "resourceVersion": "42",
            "labels": {"team": "a", "app.kubernetes.io/managed-by": "jupyter-mlplat"},
            "annotations": {"note": "keep", "mlplat.io/canary-version": "4"},
        }
    }
    manifest = build_manifest(deployment(revision("4")), None, "Knative", CONFIG)
    merged = merged_for_replace(current, manifest)
    assert merged["metadata"]["resourceVersion"] == "42"
    assert merged["metadata"]["labels"]["team"] == "a"
    assert merged["metadata"]["annotations"]["note"] == "keep"
    assert "mlplat.io/canary-version" not in merged["metadata"]["annotations"]  # no canary now
    assert merged["spec"] == manifest["spec"]


def test_mode_names_and_their_deprecated_aliases():
    def annotated(value: str) -> dict:
        return {"metadata": {"annotations": {"serving.kserve.io/deploymentMode": value}}}

    # pkg/constants/constants.go ParseDeploymentMode: RawDeployment -> Standard,
    # Serverless -> Knative
    assert mode_of(annotated("RawDeployment")) == "Standard"
    assert mode_of(annotated("Standard")) == "Standard"
    assert mode_of(annotated("Knative")) == "Knative"
    assert mode_of(annotated("Serverless")) == "Knative"
    assert mode_of({"metadata": {}}) is None
    assert mode_of(None) is None
    for old, new in [("serverless", "Knative"), ("raw", "Standard"), ("standard", "Standard")]:
        assert MLPlat(env={"MLP_KSERVE_MODE": old}).kserve_mode == new
    assert MLPlat(env={}).kserve_mode == "auto"  # -> inferenceservice-config, else Standard
    with pytest.raises(ValueError, match="use Knative, Standard or auto"):
        MLPlat(env={"MLP_KSERVE_MODE": "fast"})


def isvc(generation: int, observed: int | None, *conditions: dict, **status: object) -> dict:
    body: dict = {"conditions": list(conditions), **status}
    if observed is not None:
        body["observedGeneration"] = observed
    return {"metadata": {"generation": generation}, "status": body}


READY = {"type": "Ready", "status": "True"}


def test_readiness_needs_the_current_generation_and_reports_failures():
    assert readiness(isvc(2, 1, READY))[0] == "waiting"  # still the previous spec's status
    assert readiness(isvc(2, 2, READY)) == ("ready", "")
    waiting = {"type": "Ready", "status": "False", "reason": "RevisionMissing", "message": "x\ny"}
    assert readiness(isvc(1, 1, waiting)) == ("waiting", "x y")
    failed = {"type": "Ready", "status": "False", "reason": "RevisionFailed", "message": "boom"}
    assert readiness(isvc(1, 1, failed)) == ("failed", "boom")
    blocked = isvc(
        1,
        1,
        {"type": "Ready", "status": "False"},
        modelStatus={
            "transitionStatus": "BlockedByFailedLoad",
            "lastFailureInfo": {"reason": "ModelLoadFailed", "message": "no MLmodel"},
        },
    )
    assert readiness(blocked) == ("failed", "no MLmodel")
    canary = isvc(1, 1, READY, canaryStatuses=[{"name": "v4", "ready": False, "trafficPercent": 9}])
    assert readiness(canary) == ("waiting", "canary v4 is not ready")
