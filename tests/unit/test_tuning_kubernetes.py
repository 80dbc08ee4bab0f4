"""The trial Job and its ConfigMap as plain manifests (no cluster)."""

from __future__ import annotations

import base64
from typing import ClassVar

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.tuning import kubernetes as kube


def build(payload: bytes = b"objective", workers: int = 3):
    config = MLPlat(env={"MLP_USER": "Ada Lovelace", "MLP_NAMESPACE": "mlplat-ada"})
    name = kube.job_name("Churn model-objective", "0123456789abcdef")
    return config, kube.manifests(
        config, name=name, study_name="Churn model-objective", payload=payload,
        workers=workers, env={"MLP_TUNING_TRIALS": "20"},
    )  # fmt: skip


def test_job_is_indexed_restricted_and_names_the_secret_only():
    config, (config_map, job) = build()
    name = job["metadata"]["name"]
    assert len(name) <= 50 and name.startswith("tune-churn-model-objective")
    assert job["metadata"]["namespace"] == "mlplat-ada"
    assert job["metadata"]["labels"]["app.kubernetes.io/managed-by"] == "jupyter-mlplat"
    spec = job["spec"]
    assert (spec["completionMode"], spec["completions"], spec["parallelism"]) == ("Indexed", 3, 3)
    pod = spec["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    (container,) = pod["containers"]
    assert container["securityContext"]["capabilities"] == {"drop": ["ALL"]}
    assert container["securityContext"]["allowPrivilegeEscalation"] is False
    assert container["resources"]["requests"] == {"cpu": "1", "memory": "2Gi"}
    env = {v["name"]: v for v in container["env"]}
    assert env["MLP_TUNING_STORAGE"]["valueFrom"]["secretKeyRef"] == {
        "name": config.tuning_storage_secret,
        "key": "url",
    }
    assert env["MLP_TUNING_OBJECTIVE"]["value"] == f"{kube.MOUNT}/{kube.OBJECTIVE_KEY}"
    assert env["MLP_TUNING_TRIALS"]["value"] == "20"
    assert pod["volumes"] == [{"name": "objective", "configMap": {"name": name}}]
    assert base64.b64decode(config_map["binaryData"][kube.OBJECTIVE_KEY]) == b"objective"


def test_too_large_an_objective_is_one_line():
    with pytest.raises(InvalidInput, match="more than a ConfigMap holds"):
        build(payload=b"x" * (kube.MAX_OBJECTIVE + 1))


def test_with_tracking_auth_the_pods_read_the_users_mlflow_credential_from_its_secret():
    from jupyter_mlplat.tracking.auth import CREDENTIAL_SECRET

    config = MLPlat(env={"MLP_USER": "ada", "MLP_NAMESPACE": "mlplat-ada"})
    env = {"MLP_TUNING_TRIALS": "20", "MLFLOW_TRACKING_PASSWORD": "s3cret"}  # a careless caller
    _, job = kube.manifests(
        config, name="tune-x", study_name="x", payload=b"o", workers=1, env=env,
        tracking_credential=True,
    )  # fmt: skip
    (container,) = job["spec"]["template"]["spec"]["containers"]
    variables = {v["name"]: v for v in container["env"]}
    for name, key in (
        ("MLFLOW_TRACKING_USERNAME", "username"),
        ("MLFLOW_TRACKING_PASSWORD", "password"),
    ):
        assert variables[name] == {
            "name": name,
            "valueFrom": {"secretKeyRef": {"name": CREDENTIAL_SECRET, "key": key}},
        }
    assert "s3cret" not in str(job)
    _, plain = kube.manifests(
        config, name="tune-x", study_name="x", payload=b"o", workers=1, env=env,
        tracking_credential=False,
    )  # fmt: skip
    assert "MLFLOW_TRACKING_USERNAME" not in str(plain) and "s3cret" not in str(plain)


class FakeObjects:
    """One kind's objects in memory (an API server that stalls on ``stall`` creates: the
    object is stored, the answer never comes)."""

    store: ClassVar[dict] = {}
    stall: ClassVar[set] = set()
    deleted: ClassVar[list] = []

    def __init__(self, kind, namespace, *, api_client=None, client=None) -> None:
        self.kind, self.namespace, self.client, self.api = kind, namespace, object(), self

    def translated(self, verb, name):
        from jupyter_mlplat.infra.kube import translated

        return translated(f"{verb} {self.kind.kind} {self.namespace}/{name}", self.kind)

    def create(self, body, namespace):
        from urllib3.exceptions import ReadTimeoutError

        stored = {**body, "metadata": {**body["metadata"], "uid": f"uid-{self.kind.kind}"}}
        self.store[self.kind.kind] = stored
        if self.kind.kind in self.stall:
            raise ReadTimeoutError(None, "/apis", "Read timed out. (read timeout=30)")
        return type("Instance", (), {"to_dict": lambda _: stored})()

    def get(self, name):
        return self.store.get(self.kind.kind)

    def delete(self, found, propagation=""):
        self.deleted.append((self.kind.kind, found["metadata"]["uid"], propagation))
        self.store.pop(self.kind.kind, None)


def test_a_job_create_that_timed_out_is_undone_with_its_config_map(monkeypatch):
    """The Job may exist after a create with no answer: it and the ConfigMap are deleted (the
    Job with its pods), and the timeout is one line (Unavailable)."""
    from jupyter_mlplat.errors import Unavailable

    monkeypatch.setattr(kube, "Objects", FakeObjects)
    monkeypatch.setattr(FakeObjects, "store", {})
    monkeypatch.setattr(FakeObjects, "deleted", [])
    monkeypatch.setattr(FakeObjects, "stall", {"Job"})
    config, (config_map, job) = build()
    with pytest.raises(Unavailable, match=r"^cannot create Job .*unreachable .*timed out") as err:
        kube.submit(config, config_map, job)
    assert "\n" not in str(err.value)
    assert FakeObjects.store == {}
    assert FakeObjects.deleted == [
        ("Job", "uid-Job", "Background"),
        ("ConfigMap", "uid-ConfigMap", ""),
    ]
