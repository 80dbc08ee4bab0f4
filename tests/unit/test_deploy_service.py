"""The deploy service's decisions (replace, canary, promote, rollback, failures, owners),
with an in-memory backend; the real MLServer backend is in tests/integration."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.backends import DeployBackend, Progress
from jupyter_mlplat.deploy.models import Deployment, DeployRequest, ModelRef
from jupyter_mlplat.deploy.service import DeployService, name_for_model
from jupyter_mlplat.errors import Conflict, InvalidInput, NotFound, Unavailable


class FakeBackend(DeployBackend):
    """Serves whatever it is asked to; fails on request; can hold a rollout open."""

    name = "local"

    def __init__(self) -> None:
        super().__init__(MLPlat(env={}))
        self.serving: dict[str, Deployment] = {}
        self.fail_next = False
        self.gate: threading.Event | None = None
        self.applied: list[tuple[str, str | None]] = []

    def apply(self, deployment: Deployment, previous: Deployment | None, progress: Progress):
        progress("starting", 0.5)
        if self.gate is not None:
            self.gate.wait(10)
        if self.fail_next:
            self.fail_next = False
            raise Unavailable("the model server exited: boom")
        canary = deployment.canary.model.version if deployment.canary else None
        self.applied.append((deployment.stable.model.version, canary))
        deployment.endpoint = f"http://127.0.0.1:1{len(self.applied)}"
        deployment.details = {"pid": len(self.applied)}
        self.serving[deployment.name] = deployment
        return deployment

    def status(self, deployment: Deployment) -> Deployment:
        return deployment

    def delete(self, deployment: Deployment) -> None:
        self.serving.pop(deployment.name, None)

    def restore(self, deployments: list[Deployment]) -> list[Deployment]:
        for d in deployments:
            self.serving[d.name] = d
        return deployments


def resolver(config: MLPlat, uri: str) -> ModelRef:
    name, version, alias = ModelRef.parse(uri)
    if name == "missing":
        raise NotFound(f"registered model {name!r} has no alias {alias!r}")
    version = version or {"champion": "1", "challenger": "2"}.get(alias or "", "3")
    return ModelRef(uri, name, version, f"models:/m-{version}", f"file:///m/{version}")


@pytest.fixture
def backend() -> FakeBackend:
    return FakeBackend()


def service_for(tmp_path: Path, backend: FakeBackend, user: str = "ada") -> DeployService:
    config = MLPlat(env={"MLP_USER": user, "MLP_STATE_DIR": str(tmp_path)})
    return DeployService(config, resolver=resolver, backends={"local": backend})


@pytest.fixture
def service(tmp_path: Path, backend: FakeBackend) -> DeployService:
    return service_for(tmp_path, backend)


def deploy(service: DeployService, uri: str, **kwargs) -> Deployment:
    started = service.deploy(DeployRequest(uri, **kwargs))
    assert started.state == "deploying"
    return service.wait(started.name, 10)


def versions(d: Deployment) -> tuple[str, str | None, str | None]:
    return (
        d.stable.model.version,
        d.canary.model.version if d.canary else None,
        d.previous.model.version if d.previous else None,
    )


def test_new_deployment_is_named_after_the_model_and_persisted(service, tmp_path):
    d = deploy(service, "models:/Iris Model@champion")
    assert d.name == "iris-model" and d.state == "ready" and d.owner == "ada"
    assert d.details["progress"] == {"step": "ready", "fraction": 1.0}
    assert (tmp_path / "deployments" / "iris-model.json").stat().st_mode & 0o777 == 0o600
    assert [x.name for x in service.list()] == ["iris-model"]


def test_replace_canary_promote_rollback(service, backend):
    deploy(service, "models:/iris/1", name="iris")
    d = deploy(service, "models:/iris/2", name="iris")
    assert versions(d) == ("2", None, "1")
    d = deploy(service, "models:/iris/3", name="iris", canary=10)
    assert versions(d) == ("2", "3", "1")
    assert (d.stable.traffic, d.canary and d.canary.traffic) == (90, 10)
    d = service.promote("iris")
    d = service.wait("iris", 10)
    assert versions(d) == ("3", None, "2") and d.stable.traffic == 100
    d = deploy(service, "models:/iris/4", name="iris", canary=50)
    service.rollback("iris")
    d = service.wait("iris", 10)
    assert versions(d) == ("3", None, "2")  # the canary is dropped
    service.rollback("iris")
    d = service.wait("iris", 10)
    assert versions(d) == ("2", None, None)
    with pytest.raises(InvalidInput, match="nothing to roll back"):
        service.rollback("iris")
    with pytest.raises(InvalidInput, match="no canary to promote"):
        service.promote("iris")
    assert backend.applied[-1] == ("2", None)


def test_bad_requests_are_refused_before_anything_changes(service, backend):
    with pytest.raises(InvalidInput, match="not deployed yet"):
        service.deploy(DeployRequest("models:/iris/1", name="iris", canary=10))
    with pytest.raises(NotFound):
        service.deploy(DeployRequest("models:/missing@champion"))
    with pytest.raises(InvalidInput, match="unknown deploy target"):
        service.deploy(DeployRequest("models:/iris/1", target="nowhere"))  # type: ignore[arg-type]
    deploy(service, "models:/iris/1", name="iris")
    with pytest.raises(Conflict, match="deployed to local"):
        service.deploy(DeployRequest("models:/iris/2", name="iris", target="kserve"))
    with pytest.raises(InvalidInput, match="already"):
        service.deploy(DeployRequest("models:/iris/1", name="iris", canary=10))
    with pytest.raises(NotFound):
        service.get("nope")
    assert [versions(d) for d in service.list()] == [("1", None, None)]
    assert backend.applied == [("1", None)]


def test_one_operation_per_name(service, backend):
    backend.gate = threading.Event()
    service.deploy(DeployRequest("models:/iris/1", name="iris"))
    with pytest.raises(Conflict, match="still running"):
        service.deploy(DeployRequest("models:/iris/2", name="iris"))
    with pytest.raises(Conflict):
        service.delete("iris")
    deadline = time.monotonic() + 5
    while service.get("iris").details["progress"]["step"] == "queued":
        assert time.monotonic() < deadline
        time.sleep(0.01)
    assert service.get("iris").details["progress"] == {"step": "starting", "fraction": 0.5}
    backend.gate.set()
    assert service.wait("iris", 10).state == "ready"


def test_failed_rollout_reverts_to_what_served(service, backend):
    before = deploy(service, "models:/iris/1", name="iris")
    backend.fail_next = True
    d = deploy(service, "models:/iris/2", name="iris", canary=20)
    assert d.state == "ready" and versions(d) == ("1", None, None)
    assert d.endpoint == before.endpoint
    assert "failed and was reverted: the model server exited: boom" in d.message


def test_failed_new_deployment_is_recorded_until_deleted(service, backend):
    backend.fail_next = True
    d = deploy(service, "models:/iris/1", name="iris")
    assert d.state == "failed" and d.endpoint == "" and "boom" in d.message
    assert "iris" not in backend.serving
    d = deploy(service, "models:/iris/1", name="iris")  # a new try starts over
    assert d.state == "ready"
    service.delete("iris")
    assert service.list() == [] and "iris" not in backend.serving


def test_users_cannot_see_or_touch_each_others_deployments(tmp_path, backend):
    ada, bob = service_for(tmp_path, backend), service_for(tmp_path, backend, "bob")
    deploy(ada, "models:/iris/1", name="iris")
    assert bob.list() == []
    for action in (bob.get, bob.delete, bob.promote, bob.rollback):
        with pytest.raises(NotFound):
            action("iris")
    with pytest.raises(Conflict, match="taken"):
        bob.deploy(DeployRequest("models:/iris/2", name="iris"))
    assert [d.owner for d in ada.list()] == ["ada"]


def until_applying(service: DeployService, name: str) -> None:
    """Until the backend holds the rollout (its last progress written: a dead server's)."""
    deadline = time.monotonic() + 10
    while service.get(name).details.get("progress", {}).get("step") != "starting":
        assert time.monotonic() < deadline
        time.sleep(0.01)


def test_restore_after_a_restart_mid_rollout_returns_to_the_old_record(tmp_path, backend):
    service = service_for(tmp_path, backend)
    deploy(service, "models:/iris/1", name="iris")
    backend.gate = threading.Event()
    service.deploy(DeployRequest("models:/iris/2", name="iris"))
    until_applying(service, "iris")
    # a new server process finds the record mid-rollout (state deploying)
    restarted = service_for(tmp_path, FakeBackend())
    restored = restarted.restore()
    assert [(d.state, versions(d)) for d in restored] == [("ready", ("1", None, None))]
    assert restored[0].reverted and restored[0].message == (
        "rollout of version 2 was interrupted by a restart of the Jupyter server and was reverted"
    )
    assert not (tmp_path / "deployments" / "iris.rollback.json").exists()
    backend.gate.set()
    service.wait("iris", 10)


def test_restore_after_a_restart_mid_first_deploy_fails_it(tmp_path, backend):
    service = service_for(tmp_path, backend)
    backend.gate = threading.Event()
    service.deploy(DeployRequest("models:/iris/1", name="iris"))
    until_applying(service, "iris")
    seen: list[list[str]] = []

    class Watching(FakeBackend):
        def restore(self, deployments):
            # the restore holds every name: no operation starts meanwhile
            with pytest.raises(Conflict):
                restarted.deploy(DeployRequest("models:/iris/1", name="iris"))
            seen.append([d.state for d in deployments])
            return super().restore(deployments)

    restarted = service_for(tmp_path, Watching())
    (failed,) = restarted.restore()
    assert seen == [["failed"]]
    assert (failed.state, failed.endpoint) == ("failed", "")
    assert "interrupted by a restart of the Jupyter server: deploy again" in failed.message
    assert restarted.get("iris").state == "failed"
    backend.gate.set()
    service.wait("iris", 10)


def test_name_for_model():
    assert name_for_model("Iris Model") == "iris-model"
    assert name_for_model("3d_model") == "model-3d-model"
    assert name_for_model("x" * 80) == "x" * 63


class NoCanaryBackend(FakeBackend):
    """A target that refuses canaries up front (as KServe's Standard mode does)."""

    def check(self, deployment: Deployment) -> None:
        if deployment.canary is not None:
            raise InvalidInput("no canary here")


def test_a_backends_check_refuses_before_anything_is_recorded(tmp_path):
    backend = NoCanaryBackend()
    service = service_for(tmp_path, backend)
    deploy(service, "models:/iris/1", name="iris")
    before = (tmp_path / "deployments" / "iris.json").read_text()
    with pytest.raises(InvalidInput, match="no canary here"):
        service.deploy(DeployRequest("models:/iris/2", name="iris", canary=10))
    assert (tmp_path / "deployments" / "iris.json").read_text() == before
    assert backend.applied == [("1", None)]
    assert deploy(service, "models:/iris/2", name="iris").stable.model.version == "2"
