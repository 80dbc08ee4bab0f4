"""KServe target, pure parts: manifests in both modes, canary/promote/rollback specs, status.

The same objects go to a real API server with KServe's CRD in tests/integration.
"""

from __future__ import annotations

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.kserve import (
    build_manifest,
    merged_for_replace,
    mode_of,
    readiness,
    revision_name,
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
    for mode in ("serverless", "standard"):
        manifest = build_manifest(deployment(revision("3")), None, mode, CONFIG)
        assert manifest["apiVersion"] == "serving.kserve.io/v1beta1"
        assert manifest["kind"] == "InferenceService"
        metadata = manifest["metadata"]
        assert (metadata["name"], metadata["namespace"]) == ("iris", "team-a")
        assert metadata["labels"]["app.kubernetes.io/managed-by"] == "jupyter-mlplat"
        assert metadata["labels"]["mlplat.io/owner"].startswith("ada-example-org-")  # a label
        annotations = metadata["annotations"]
        assert annotations["mlplat.io/owner"] == "Ada@example.org"
        assert annotations["mlplat.io/model-name"] == "iris"
        assert annotations["mlplat.io/model-version"] == "3"
        predictor = manifest["spec"]["predictor"]
        assert predictor["serviceAccountName"] == "models-sa"
        assert predictor["model"] == {
            "name": "kserve-container",
            "modelFormat": {"name": "mlflow"},
            "protocolVersion": "v2",
            "storageUri": "s3://mlflow/artifacts/1/models/m-3/artifacts",
        }
        assert "canaryTrafficPercent" not in predictor
        assert "canary" not in manifest["spec"]
    assert annotations["serving.kserve.io/deploymentMode"] == "Standard"


def test_serverless_canary_promote_and_rollbacks():
    v3, v4 = revision("3"), revision("4")
    stable_only = deployment(v3)
    canary = deployment(v3, revision("4", traffic=20))

    spec = build_manifest(canary, stable_only, "serverless", CONFIG)
    predictor = spec["spec"]["predictor"]
    # KServe keeps the rolled-out revision (v3) as stable: the spec names the new one
    assert predictor["model"]["storageUri"].endswith("m-4/artifacts")
    assert predictor["canaryTrafficPercent"] == 20
    assert "canary" not in spec["spec"]  # Serverless rejects spec.canary
    assert spec["metadata"]["annotations"]["mlplat.io/canary-version"] == "4"
    assert spec["metadata"]["annotations"]["serving.kserve.io/deploymentMode"] == "Serverless"

    promoted = build_manifest(deployment(v4), canary, "serverless", CONFIG)["spec"]["predictor"]
    assert promoted["model"]["storageUri"].endswith("m-4/artifacts")
    assert "canaryTrafficPercent" not in promoted

    # dropping the canary: all traffic back to the rolled-out revision at once, no restart
    dropped = build_manifest(stable_only, canary, "serverless", CONFIG)["spec"]["predictor"]
    assert dropped["model"]["storageUri"].endswith("m-4/artifacts")
    assert dropped["canaryTrafficPercent"] == 0

    # after a promote: the previous storage URI again (Knative keeps v4 until v3 is ready)
    back = build_manifest(deployment(v3), deployment(v4), "serverless", CONFIG)
    assert back["spec"]["predictor"]["model"]["storageUri"].endswith("m-3/artifacts")
    assert "canaryTrafficPercent" not in back["spec"]["predictor"]


def test_standard_canary_is_a_named_second_predictor_and_promote_reuses_it():
    v3, v4 = revision("3"), revision("4", traffic=25)
    spec = build_manifest(deployment(v3, v4), deployment(v3), "standard", CONFIG)["spec"]
    assert spec["predictor"]["name"] == revision_name(v3)
    assert "canaryTrafficPercent" not in spec["predictor"]  # Standard ignores it: never sent
    [canary] = spec["canary"]
    assert canary["trafficPercent"] == 25
    assert canary["predictor"]["name"] == revision_name(v4)
    assert canary["predictor"]["model"]["storageUri"].endswith("m-4/artifacts")
    assert canary["predictor"]["serviceAccountName"] == "models-sa"

    promoted = build_manifest(deployment(revision("4")), deployment(v3, v4), "standard", CONFIG)
    assert promoted["spec"]["predictor"]["name"] == canary["predictor"]["name"]
    assert "canary" not in promoted["spec"]

    dropped = build_manifest(deployment(v3), deployment(v3, v4), "standard", CONFIG)["spec"]
    assert dropped == {"predictor": spec["predictor"]}


def test_predictor_names_are_dns_labels_and_a_same_artifact_canary_gets_its_own():
    name = revision_name(revision("12"))
    assert name.startswith("v12-") and len(name) == len("v12-") + 6
    same = build_manifest(deployment(revision("3"), revision("3", 10)), None, "standard", CONFIG)
    assert same["spec"]["canary"][0]["predictor"]["name"].endswith("-canary")


@pytest.mark.parametrize("scheme", ["file:///srv/", "mlflow-artifacts:/", "models:/", ""])
def test_storage_kserve_cannot_load_is_refused_before_any_call(scheme):
    with pytest.raises(InvalidInput, match="KServe cannot load models:/iris/3"):
        build_manifest(deployment(revision("3", scheme=scheme)), None, "serverless", CONFIG)


def test_replace_keeps_foreign_metadata_and_guards_with_the_resource_version():
    current = {
        "metadata": {
            "name": "iris",
            "resourceVersion": "42",
            "labels": {"team": "a", "app.kubernetes.io/managed-by": "jupyter-mlplat"},
            "annotations": {"note": "keep", "mlplat.io/canary-version": "4"},
        }
    }
    manifest = build_manifest(deployment(revision("4")), None, "serverless", CONFIG)
    merged = merged_for_replace(current, manifest)
    assert merged["metadata"]["resourceVersion"] == "42"
    assert merged["metadata"]["labels"]["team"] == "a"
    assert merged["metadata"]["annotations"]["note"] == "keep"
    assert "mlplat.io/canary-version" not in merged["metadata"]["annotations"]  # no canary now
    assert merged["spec"] == manifest["spec"]


def test_mode_of_an_existing_object_wins_and_legacy_names_are_understood():
    def annotated(value: str) -> dict:
        return {"metadata": {"annotations": {"serving.kserve.io/deploymentMode": value}}}

    assert mode_of(annotated("RawDeployment")) == "standard"
    assert mode_of(annotated("Knative")) == "serverless"
    assert mode_of(annotated("Serverless")) == "serverless"
    assert mode_of({"metadata": {}}) is None
    assert mode_of(None) is None


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
