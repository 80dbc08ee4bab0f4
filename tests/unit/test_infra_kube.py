"""The Kubernetes module, pure parts: error translation (real ``ApiException`` objects), names,
labels, and the watch loop's decisions (a stand-in watch; the real one is in tests/integration)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from kubernetes.client.exceptions import ApiException
from kubernetes.config.config_exception import ConfigException
from kubernetes.dynamic.exceptions import ResourceNotFoundError
from urllib3.exceptions import MaxRetryError

from jupyter_mlplat.errors import Conflict, InvalidInput, NotFound, Unavailable
from jupyter_mlplat.infra import kube

ISVC = kube.Kind("serving.kserve.io", "v1beta1", "InferenceService", "inferenceservices", "KServe")


def api_exception(status: int, reason: str, body: Any) -> ApiException:
    err = ApiException(status=status, reason=reason)
    err.body = body if isinstance(body, str) else json.dumps(body)
    return err


def translate(err: BaseException, action: str = "create InferenceService ns/iris") -> Exception:
    with pytest.raises(Exception) as raised, kube.translated(action, ISVC, "ns"):
        raise err
    return raised.value


def test_403_names_verb_resource_namespace_and_the_rbac_to_check():
    body = {
        "kind": "Status",
        "message": 'inferenceservices.serving.kserve.io "iris" is forbidden: User "x" cannot...',
        "reason": "Forbidden",
        "details": {"name": "iris", "group": "serving.kserve.io", "kind": "inferenceservices"},
        "code": 403,
    }
    error = translate(api_exception(403, "Forbidden", body))
    assert isinstance(error, Unavailable)
    assert str(error) == (
        "cannot create InferenceService ns/iris: not allowed to create "
        "inferenceservices.serving.kserve.io in namespace ns "
        "(check the RBAC of the notebook's service account)"
    )
    read = translate(api_exception(403, "Forbidden", body), "get InferenceService ns/iris")
    assert "not allowed to get inferenceservices.serving.kserve.io" in str(read)


def test_a_kind_the_cluster_does_not_serve_names_the_operator_to_install():
    expected = (
        "cannot create InferenceService ns/iris: this cluster does not serve "
        "serving.kserve.io/v1beta1 InferenceService (is KServe installed?)"
    )
    # the dynamic client's discovery...
    assert str(translate(ResourceNotFoundError("No matches found"))) == expected
    # ...and a raw call to a path the server does not serve
    unserved = {"kind": "Status", "message": "the server could not find the requested resource",
                "reason": "NotFound", "details": {}, "code": 404}  # fmt: skip
    error = translate(api_exception(404, "Not Found", unserved))
    assert isinstance(error, Unavailable) and str(error) == expected
    # an object that is not there is NotFound, not a missing CRD
    missing = {"message": 'namespaces "nope" not found', "reason": "NotFound",
               "details": {"name": "nope", "kind": "namespaces"}, "code": 404}  # fmt: skip
    error = translate(api_exception(404, "Not Found", missing))
    assert isinstance(error, NotFound)
    assert str(error) == 'cannot create InferenceService ns/iris: namespaces "nope" not found'


def test_409_and_422_with_the_apis_first_cause_in_one_line():
    conflict = {"message": 'Operation cannot be fulfilled on ... "iris": the object has been\n'
                "modified", "reason": "Conflict", "code": 409}  # fmt: skip
    error = translate(api_exception(409, "Conflict", conflict))
    assert isinstance(error, Conflict) and "\n" not in str(error)
    invalid = {
        "message": 'InferenceService "iris" is invalid: [a, b]',
        "reason": "Invalid",
        "details": {
            "causes": [
                {"field": "spec.canary[0].trafficPercent", "message": "should be <= 100"},
                {"field": "other", "message": "later"},
            ]
        },
        "code": 422,
    }
    error = translate(api_exception(422, "Unprocessable Entity", invalid))
    assert isinstance(error, InvalidInput)
    assert str(error) == (
        "cannot create InferenceService ns/iris: spec.canary[0].trafficPercent: should be <= 100"
    )


def test_unreachable_and_unconfigured_are_unavailable():
    error = translate(api_exception(502, "Bad Gateway", "<html>"))
    assert isinstance(error, Unavailable) and str(error).endswith(": 502 Bad Gateway")
    error = translate(MaxRetryError(None, "/apis", "refused"))  # type: ignore[arg-type]
    assert isinstance(error, Unavailable) and "Kubernetes API unreachable" in str(error)
    error = translate(ConfigException("Invalid kube-config file"), "configure the client")
    assert str(error) == (
        "cannot configure the client: no Kubernetes configuration (Invalid kube-config file)"
    )


def test_names_and_owner_labels():
    assert kube.dns_label("ada") == "ada"
    assert kube.dns_label("Ada") != kube.dns_label("ada")  # altered names get a hash
    assert len(kube.dns_label("x" * 100)) == 63
    assert kube.owner_labels("Ada@x.org") == {
        "app.kubernetes.io/managed-by": "jupyter-mlplat",
        "jupyter-mlplat/user": kube.user_label("Ada@x.org"),
    }
    assert kube.is_managed({"metadata": {"labels": kube.owner_labels("ada")}})
    assert not kube.is_managed({"metadata": {"labels": {"team": "a"}}})
    assert ISVC.resource == "inferenceservices.serving.kserve.io"
    assert ISVC.api_version == "serving.kserve.io/v1beta1"


class FakeWatchClient:
    """Stands in for ``DynamicClient.watch``: replays scripted event batches."""

    def __init__(self, *batches: list[dict[str, Any]] | Exception) -> None:
        self.batches = list(batches)
        self.versions: list[str | None] = []

    def watch(self, api: Any, **kwargs: Any) -> Any:
        self.versions.append(kwargs["resource_version"])
        batch = self.batches.pop(0) if self.batches else []
        if isinstance(batch, Exception):
            raise batch
        yield from batch


def obj(version: str, state: str = "") -> dict[str, Any]:
    return {"metadata": {"resourceVersion": version}, "status": {"state": state}}


def test_watch_until_follows_versions_rereads_on_410_and_times_out():
    reads = [obj("5", "NotReady")]
    bookmark = {"type": "BOOKMARK", "raw_object": {}}
    client = FakeWatchClient(
        [{"type": "MODIFIED", "raw_object": obj("3", "NotReady")}],
        api_exception(410, "Gone", {}),
        [bookmark, {"type": "MODIFIED", "raw_object": obj("6", "Ready")}],
    )
    waits: list[float] = []
    found = kube.watch_until(
        client,  # type: ignore[arg-type]
        None,
        namespace="ns",
        name="x",
        current=obj("2"),
        check=lambda o: o if o and o["status"]["state"] == "Ready" else None,
        read=lambda: reads.pop(0),
        timeout=60,
        on_wait=lambda o, waited: waits.append(waited),
    )
    assert found == obj("6", "Ready")
    assert client.versions == ["2", "3", "5"]  # each watch starts where the last object was
    assert len(waits) == 3

    never = kube.watch_until(
        FakeWatchClient(),  # type: ignore[arg-type]
        None,
        namespace="ns",
        name="x",
        current=obj("2"),
        check=lambda o: None,
        read=lambda: obj("2"),
        timeout=0,
    )
    assert never is None
