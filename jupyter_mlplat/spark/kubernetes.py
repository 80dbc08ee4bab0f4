"""Per-user elastic Spark on Kubernetes: one Kubeflow Spark Operator ``SparkConnect`` per user.

The resource is a plain dict sent through ``kubernetes.dynamic.DynamicClient`` (typed models break
with kubernetes 37). The operator (v2.5, ``sparkoperator.k8s.io/v1alpha1``) starts a Spark Connect
server pod plus a Service, and executors come and go with dynamic allocation. It reports
``status.state`` (``""`` → ``NotReady`` → ``Ready``; newer operators also ``Failed`` /
``Completed``) and publishes the Service in ``status.server.serviceName``.

``kubernetes`` is imported on first use: it costs ~1 s, which a kernel must not pay at start.
"""

from __future__ import annotations

import importlib.metadata
import re
import time
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import yaml

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import Conflict, InvalidInput, MLPlatError, Unavailable
from jupyter_mlplat.infra import kube
from jupyter_mlplat.infra.kube import dns_label
from jupyter_mlplat.spark.backends import SparkBackend, SparkEndpoint

if TYPE_CHECKING:
    from kubernetes.dynamic import DynamicClient

SPARK_CONNECT = kube.Kind(
    "sparkoperator.k8s.io", "v1alpha1", "SparkConnect", "sparkconnects",
    installed_by="the Kubeflow Spark Operator",
)  # fmt: skip
API_VERSION = SPARK_CONNECT.api_version
KIND = SPARK_CONNECT.kind
CONNECT_PORT = 15002  # the operator's Service port "spark-connect-server"
UI_PORT = 4040  # the operator's Service port "web-ui"
USER_ANNOTATION = "jupyter-mlplat/user"
#: Spark refuses executor pod name prefixes (the resource name) longer than 47 characters.
MAX_NAME = 47
#: ``status.state`` of the operator -> the backend vocabulary of ``SparkBackend.state()``.
STATES = {"": "starting", "Provisioning": "starting", "NotReady": "starting", "Ready": "ready",
          "Failed": "failed"}  # fmt: skip
FINAL_STATES = {"Failed", "Completed"}

Progress = Callable[[str], None]


class KubernetesBackend(SparkBackend):
    """``spark_mode = kubernetes``: get-or-create the user's SparkConnect and wait until ready."""

    name = "kubernetes"
    #: Seconds between progress reports while waiting (the wait itself is a watch).
    progress_interval = 2.0

    def __init__(self, config: MLPlat, client: DynamicClient | None = None) -> None:
        self.config = config
        self.namespace = config.namespace
        self.resource_name = resource_name(config.resolved_user)
        self.objects = kube.Objects(SPARK_CONNECT, config.namespace, client=client)

    # -- SparkBackend ---------------------------------------------------------------------
    def endpoint(
        self, timeout: float | None = None, on_progress: Progress | None = None
    ) -> SparkEndpoint:
        """The user's Spark Connect server, creating the session and waiting until it is ready.

        ``on_progress`` is called with a one-line message every ``progress_interval`` seconds
        while waiting. The deadline is honoured to within a second. A session no operator
        answers (no status at all) for ``spark_operator_wait`` seconds is an error at once:
        the operator's default install watches only the ``default`` namespace.
        """
        budget = float(self.config.spark_ready_timeout if timeout is None else timeout)
        operator_wait = float(self.config.spark_operator_wait)
        started = time.monotonic()
        last: dict[str, Any] = {}

        def check(current: dict[str, Any] | None) -> SparkEndpoint | None:
            last.clear()
            last.update(current or {})
            state = _operator_state(last)
            if state == "Ready":
                return _endpoint_of(last)
            if state in FINAL_STATES:
                raise Unavailable(
                    f"Spark session {self._where} is {state}: {_condition_message(last)}; "
                    "shut it down to start a new one"
                )
            waited = time.monotonic() - started
            unanswered = not last.get("status") and state != "Terminating"
            if current is not None and unanswered and waited >= operator_wait:
                raise Unavailable(
                    f"no Spark Operator is watching namespace {self.namespace}: "
                    f"SparkConnect {self.resource_name} got no status in {operator_wait:.0f} s "
                    "(see spawner_config/cluster/spark-operator-values.yaml)"
                )
            return None

        def wait(current: dict[str, Any] | None, waited: float) -> None:
            if on_progress is not None:
                state = _operator_state(current or {})
                on_progress(
                    f"waiting for Spark session {self.resource_name} "
                    f"(state {state or 'New'}, {waited:.0f} s)"
                )

        found = self.objects.watch_until(
            self.resource_name,
            current=self._read() or self._create(),
            check=check,
            read=lambda: self._read() or self._create(),  # deleted meanwhile: start anew
            timeout=budget,
            on_wait=wait,
            interval=min(self.progress_interval, max(operator_wait, 1.0)),
        )
        if found is None:
            raise Unavailable(
                f"Spark session {self._where} not ready after {budget:.0f} s "
                f"(last state: {_operator_state(last) or 'New'}); "
                f"see `kubectl describe sparkconnect -n {self.namespace} {self.resource_name}`"
            )
        return found

    def state(self) -> dict[str, Any]:
        """State of the user's SparkConnect (``stopped`` when there is none)."""
        where = {"name": self.resource_name, "namespace": self.namespace}
        try:
            current = self._read()
        except MLPlatError as err:
            return {"state": "unavailable", **where, "error": str(err)}
        if current is None:
            return {"state": "stopped", **where}
        state = _operator_state(current)
        status = current.get("status") or {}
        ready = state == "Ready"
        return {
            "state": STATES.get(state, state.lower()),
            **where,
            "operator_state": state,
            "endpoint": _endpoint_of(current).remote if ready else "",
            "executors": status.get("executors") or {},
            "server_pod": (status.get("server") or {}).get("podName", ""),
        }

    def shutdown(self) -> None:
        """Delete the SparkConnect (only ours: the one read, by uid). The operator's pod, Service
        and ConfigMap go with it: foreground propagation removes the resource after them."""
        current = self._read()
        if current is not None:
            # foreground: the resource goes after its dependents
            self.objects.delete(current, propagation="Foreground")

    # -- the resource -----------------------------------------------------------------------
    def manifest(self) -> dict[str, Any]:
        """The SparkConnect this backend creates, from the configuration."""
        config = self.config
        if config.spark_executors_min > config.spark_executors_max:
            raise InvalidInput(
                f"spark_executors_min ({config.spark_executors_min}) is larger than "
                f"spark_executors_max ({config.spark_executors_max})"
            )
        labels = kube.owner_labels(config.resolved_user)
        user_template = load_pod_template(config.spark_pod_template)

        def template() -> dict[str, Any]:
            base = {
                "metadata": {"labels": dict(labels)},
                "spec": {"serviceAccountName": config.spark_service_account},
            }
            merged = deep_merge(base, user_template)
            metadata = merged["metadata"] = dict(merged.get("metadata") or {})
            metadata["labels"] = {**(metadata.get("labels") or {}), **labels}  # ours always win
            return merged

        return {
            "apiVersion": API_VERSION,
            "kind": KIND,
            "metadata": {
                "name": self.resource_name,
                "namespace": self.namespace,
                "labels": labels,
                "annotations": {USER_ANNOTATION: config.resolved_user},
            },
            "spec": {
                "sparkVersion": spark_version(config.spark_image),
                "image": config.spark_image,
                "sparkConf": parse_spark_conf(config.spark_conf),
                "server": {
                    "cores": config.spark_driver_cores,
                    "memory": config.spark_driver_memory,
                    "template": template(),
                },
                "executor": {
                    "cores": config.spark_executor_cores,
                    "memory": config.spark_executor_memory,
                    "template": template(),
                },
                # The operator turns these into spark.dynamicAllocation.* (after sparkConf).
                # No external shuffle service on Kubernetes: shuffle tracking keeps executors
                # holding shuffle data alive instead.
                "dynamicAllocation": {
                    "enabled": True,
                    "initialExecutors": config.spark_executors_min,
                    "minExecutors": config.spark_executors_min,
                    "maxExecutors": config.spark_executors_max,
                    "shuffleTrackingEnabled": True,
                },
            },
        }

    @property
    def client(self) -> Any:
        """The ``DynamicClient`` (in-cluster or kubeconfig unless one was given)."""
        return self.objects.client

    @property
    def api(self) -> Any:
        """The SparkConnect resource API (discovered on first use)."""
        return self.objects.api

    @property
    def _where(self) -> str:
        return f"{self.namespace}/{self.resource_name}"

    def _read(self) -> dict[str, Any] | None:
        found = self.objects.get(self.resource_name)
        if found is None:
            return None
        if not kube.is_managed(found):
            raise Conflict(
                f"SparkConnect {self._where} exists but is not managed by jupyter-mlplat"
            )
        return found

    def _create(self) -> dict[str, Any]:
        from kubernetes.client.exceptions import ApiException

        manifest = self.manifest()
        with self.objects.translated("create", self.resource_name):
            try:
                return dict(self.api.create(body=manifest, namespace=self.namespace).to_dict())
            except ApiException as err:
                if err.status != 409:
                    raise
        created_meanwhile = self._read()  # another kernel of the same user was faster
        if created_meanwhile is None:
            raise Conflict(f"SparkConnect {self._where} was created and deleted meanwhile")
        return created_meanwhile


# -- pure helpers ------------------------------------------------------------------------------
def resource_name(user: str) -> str:
    """``spark-<user>`` as a DNS-1123 label short enough for Spark's executor pod prefix."""
    return f"spark-{dns_label(user, MAX_NAME - len('spark-'))}"


def spark_version(image: str) -> str:
    """The Spark version the CRD requires: the image tag (``apache/spark:4.0.1-...``), else the
    installed pyspark (client and server of Spark Connect should match anyway)."""
    tag = image.rsplit("/", 1)[-1].partition(":")[2]
    match = re.match(r"v?(\d+\.\d+\.\d+)", tag)
    return match.group(1) if match else importlib.metadata.version("pyspark")


def parse_spark_conf(items: list[str]) -> dict[str, str]:
    """``["k=v", ...]`` -> ``{"k": "v"}``."""
    conf = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise InvalidInput(f"spark_conf entry {item!r} is not key=value")
        conf[key.strip()] = value.strip()
    return conf


def load_pod_template(path: str) -> dict[str, Any]:
    """A pod template file (a Pod, a PodTemplate or just ``metadata``/``spec``) as a dict."""
    if not path:
        return {}
    try:
        loaded = yaml.safe_load(Path(path).expanduser().read_text())
    except (OSError, yaml.YAMLError) as err:
        raise InvalidInput(f"cannot read the Spark pod template {path}: {err}") from err
    if isinstance(loaded, dict) and loaded.get("kind") == "PodTemplate":
        loaded = loaded.get("template")
    if not isinstance(loaded, dict) or not {"metadata", "spec"} >= loaded.keys() - {
        "apiVersion",
        "kind",
    }:
        raise InvalidInput(f"the Spark pod template {path} is not a pod (metadata/spec) mapping")
    return {k: v for k, v in loaded.items() if k in ("metadata", "spec")}


def deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    """``override`` on top of ``base``: mappings merge, anything else (lists too) is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def _operator_state(resource: dict[str, Any]) -> str:
    if resource.get("metadata", {}).get("deletionTimestamp"):
        return "Terminating"
    return str((resource.get("status") or {}).get("state") or "")


def _endpoint_of(resource: dict[str, Any]) -> SparkEndpoint:
    """Where the server listens: the Service in ``status.server.serviceName``, else the one named
    in ``spec.server.service``, else the operator's convention ``<name>-server``."""
    meta, spec, status = resource["metadata"], resource["spec"], resource.get("status") or {}
    published = (status.get("server") or {}).get("serviceName")
    declared = (spec.get("server", {}).get("service") or {}).get("metadata", {}).get("name")
    service = published or declared or f"{meta['name']}-server"
    host = f"{service}.{meta['namespace']}.svc.cluster.local"
    return SparkEndpoint(
        remote=f"sc://{host}:{CONNECT_PORT}",
        ui_url=f"http://{host}:{UI_PORT}",
        details={
            "name": meta["name"],
            "namespace": meta["namespace"],
            "service": service,
            "service_from": "status" if published else "spec" if declared else "convention",
            "server_pod": (status.get("server") or {}).get("podName", ""),
        },
    )


def _condition_message(resource: dict[str, Any]) -> str:
    conditions = (resource.get("status") or {}).get("conditions") or []
    return "; ".join(c.get("message", "") for c in conditions if c.get("message")) or "no details"
