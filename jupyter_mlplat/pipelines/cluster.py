"""The cluster path: the same DAG files on a team's Airflow on Kubernetes (the official chart).

* **Publishing** (the lab → the team's Airflow): a DAG file becomes a ConfigMap in the user's
  own namespace, labelled ``jupyter-mlplat/pipeline``; a k8s-sidecar container next to
  Airflow's DAG processor copies every such ConfigMap into ``<dags>/<namespace>/`` on the DAG
  volume (its target-folder annotation is the namespace; an admission policy rejects any other
  value, so nobody writes into another user's folder). The user needs nothing but ConfigMap
  rights in their own namespace. The platform environment of the user's tasks (``MLP_*``, no
  credentials) goes the same way, as the ConfigMap ``mlplat-platform-env``. Publishing is all or
  nothing: a refusal (403, 409, 422) or a timeout puts back what it had written, in one line.
  :func:`publish_file` is what users reach (``%mlp pipeline publish``, the publish after a
  pipeline is written, ``POST /mlplat/api/pipelines/publish``) when ``MLP_PIPELINES_PUBLISH``
  is ``kubernetes`` (set for users' pods by the KubeSpawner config).
* **Running** (KubernetesExecutor): the cluster policy :func:`dag_policy` (in Airflow's
  ``airflow_local_settings.py``) gives every task of a DAG under ``<dags>/<namespace>/`` a pod
  override: that namespace, the user's notebook service account, the platform environment from
  that ConfigMap, the user's MLflow credential by reference to the Secret the hub keeps in the
  namespace (optional: without tracking auth there is none) — and no storage credentials (the
  service account's cloud role has them).

Values and the pod template: ``spawner_config/cluster/airflow/``.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractContextManager
from functools import partial
from pathlib import Path, PurePosixPath
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import Conflict, InvalidInput
from jupyter_mlplat.infra.kube import (
    USER_LABEL,
    Kind,
    Objects,
    Rollback,
    bounded,
    dns_label,
    dynamic_client,
    is_managed,
    owner_labels,
    translated,
)
from jupyter_mlplat.tracking.auth import credential_references

PIPELINE_LABEL = "jupyter-mlplat/pipeline"
FOLDER_ANNOTATION = "k8s-sidecar-target-directory"
PLATFORM_ENV_CONFIGMAP = "mlplat-platform-env"
NAMESPACE_PREFIX = "mlplat-"
NOTEBOOK_SERVICE_ACCOUNT = "mlplat-notebook"
#: Settings of the platform the tasks need; everything else (state, tokens) stays behind.
TASK_VARIABLES = (
    "MLP_USER",
    "MLP_TRACKING_URI",
    "MLP_EXPERIMENT",
    "MLP_AUTOLOG",
    "MLP_SPARK_MODE",
    "MLP_SPARK_REMOTE",
    "MLP_NAMESPACE",
    "MLP_QUALITY_SUITES_DIR",
    "MLP_PIPELINES_DIR",
)


def pipeline_configmap(
    namespace: str, user: str, filename: str, source: str, extra: Mapping[str, str] | None = None
) -> dict[str, Any]:
    """The ConfigMap that publishes one DAG file of ``user`` from ``namespace`` (with ``extra``
    files beside it, such as a template's feature-config YAML)."""
    name = PurePosixPath(filename).name
    if not name.endswith(".py") or name != filename:
        raise InvalidInput(f"a pipeline is one .py file, not {filename!r}")
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": configmap_name(name),
            "namespace": namespace,
            "labels": {**owner_labels(user), PIPELINE_LABEL: "true"},
            # the sidecar's target folder: the namespace, nothing else (admission policy)
            "annotations": {FOLDER_ANNOTATION: namespace},
        },
        "data": {**(extra or {}), name: source},
    }


def platform_env_configmap(namespace: str, config: MLPlat) -> dict[str, Any]:
    """The environment of the user's task pods: the kernel's ``MLP_*`` settings, no secrets."""
    env = config.to_environment(for_kernel=True)
    data = {k: env[k] for k in TASK_VARIABLES if env.get(k)} | {"MLP_USER": config.resolved_user}
    return {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": PLATFORM_ENV_CONFIGMAP,
            "namespace": namespace,
            "labels": owner_labels(config.resolved_user),
        },
        "data": data,
    }


def pipeline_manifests(config: MLPlat, dag_file: Path) -> list[dict[str, Any]]:
    """The ConfigMaps that publish ``dag_file`` (and the files named like it: ``train.yaml``
    beside ``train.py``) and the user's task environment to their namespace."""
    if not dag_file.is_file():
        raise InvalidInput(f"no pipeline file {dag_file}")
    extra = {
        p.name: p.read_text()
        for p in sorted(dag_file.parent.glob(f"{dag_file.stem}.*"))
        if p != dag_file and p.suffix in (".yaml", ".yml", ".json")
    }
    namespace, user = config.namespace, config.resolved_user
    return [
        pipeline_configmap(namespace, user, dag_file.name, dag_file.read_text(), extra),
        platform_env_configmap(namespace, config),
    ]


CONFIGMAP = Kind("", "v1", "ConfigMap", "configmaps")


def publish(client: Any, manifests: list[dict[str, Any]]) -> None:
    """Create or replace ConfigMaps with a ``kubernetes.dynamic.DynamicClient``: all or none.

    The pipeline's own ConfigMap goes last (its DAG shows up in Airflow once what its tasks
    need is there). When a write fails (403, 409, 422, a timeout), the ConfigMaps written
    before it go back to what they were (created: deleted; replaced: their previous content)
    and the failure is raised as one line (``jupyter_mlplat.errors``). A ConfigMap of the
    same name that is not the platform's, or is another user's, is a Conflict; nothing is
    written then.
    """
    for manifest in manifests:
        check_configmap(manifest)
    bounded(client.client)  # a stalled API server fails the submission, it does not hang it
    ordered = sorted(manifests, key=lambda m: PIPELINE_LABEL in m["metadata"].get("labels", {}))
    with Rollback("undo what was published") as rollback:
        for manifest in ordered:
            meta = manifest["metadata"]
            objects = Objects(CONFIGMAP, meta["namespace"], client=client)
            current = objects.get(meta["name"])
            if current is None:
                with objects.translated("create", meta["name"]):
                    written = objects.api.create(body=manifest, namespace=meta["namespace"])
                # by uid: never a namesake created meanwhile
                rollback.add(partial(objects.delete, written.to_dict()))
                continue
            _check_ours(current, manifest)
            version = current["metadata"]["resourceVersion"]
            body = {**manifest, "metadata": {**meta, "resourceVersion": version}}
            with _updating(objects, "replace", meta["name"]):
                written = objects.api.replace(body=body, namespace=meta["namespace"])
            rollback.add(partial(_restore, objects, written.to_dict(), current))


def publish_file(
    config: MLPlat, path: Path, *, client: Any = None, dag_ids: Sequence[str] | None = None
) -> dict[str, Any]:
    """Make the pipeline file ``path`` reach the Airflow that runs the user's pipelines.

    ``MLPlat.pipelines_publish`` says how: ``folder`` (``mlplat up``): nothing to do, the
    local Airflow reads the pipelines folder. ``kubernetes`` (a user's pod on the cluster): the
    file is imported with Airflow first, unless ``dag_ids`` says it was just checked (a broken
    file is refused in one line and nothing is published), then :func:`publish` writes its
    ConfigMaps with ``client`` (a ``DynamicClient``; default: the pod's service account).
    Returns what was published: mode, file, DAG ids, namespace, ConfigMaps, folder, message.
    """
    from jupyter_mlplat.pipelines.project import (
        PipelineImportError,
        check_file,
        import_error_line,
        pipelines_dir,
    )

    path = Path(path)
    if path.suffix != ".py" or not os.path.isfile(path):  # isfile: no OSError on odd names
        raise InvalidInput(f"no pipeline file {path.name or path} (a pipeline is one .py file)")
    result: dict[str, Any] = {
        "mode": config.pipelines_publish,
        "file": path.name,
        "dag_ids": list(dag_ids or ()),
        "namespace": "",
        "configmaps": [],
    }
    if config.pipelines_publish == "folder":
        folder = pipelines_dir(config, path.parent)
        if path.resolve().parent == folder.resolve():
            message = f"nothing to publish: the local Airflow reads {folder.name}/ directly"
        else:
            message = (
                f"nothing published: the local Airflow reads {folder.name}/ only; "
                f"move {path.name} there"
            )
        return result | {"folder": str(folder), "message": message}
    if dag_ids is None:
        checked = check_file(config, path)
        if checked.get("errors"):
            raise PipelineImportError(import_error_line(checked["errors"][0], path, path.parent))
        result["dag_ids"] = list(checked.get("dag_ids") or ())
    manifests = pipeline_manifests(config, path)
    publish(client if client is not None else dynamic_client(), manifests)
    namespace = config.namespace
    return result | {
        "namespace": namespace,
        "configmaps": [m["metadata"]["name"] for m in manifests],
        "folder": f"{namespace}/",
        "message": f"published to {namespace}: the team's Airflow reads it from "
        f"<dags>/{namespace}/{path.name}",
    }


#: Upstream's rules for ConfigMap data (``IsConfigMapKey``, ``MaxSecretSize``): the API server
#: answers 422 to anything else.
_CONFIG_KEY = re.compile(r"[-._a-zA-Z0-9]+")
MAX_CONFIGMAP_BYTES = 1024 * 1024


def check_configmap(manifest: Mapping[str, Any]) -> None:
    """Refuse up front, in one line, a ConfigMap the API server would refuse (422)."""
    meta = manifest["metadata"]
    where = f"cannot publish ConfigMap {meta['namespace']}/{meta['name']}"
    data = manifest.get("data") or {}
    for key in data:
        if len(key) > 253 or not _CONFIG_KEY.fullmatch(key) or key.startswith(".."):
            raise InvalidInput(
                f"{where}: data[{key}]: a valid config key must consist of alphanumeric "
                "characters, '-', '_' or '.' (rename the file)"
            )
    size = sum(len(str(value).encode()) for value in data.values())
    if size > MAX_CONFIGMAP_BYTES:
        raise InvalidInput(
            f"{where}: its files hold {size} bytes, a ConfigMap at most {MAX_CONFIGMAP_BYTES}"
        )


def _check_ours(current: dict[str, Any], manifest: dict[str, Any]) -> None:
    """A ConfigMap already there is replaced only when it is this user's of the same kind."""
    meta = manifest["metadata"]
    labels = current["metadata"].get("labels") or {}
    wanted = meta.get("labels") or {}
    same_user = labels.get(USER_LABEL) == wanted.get(USER_LABEL)
    same_kind = (PIPELINE_LABEL in labels) == (PIPELINE_LABEL in wanted)
    if not (is_managed(current) and same_user and same_kind):
        raise Conflict(
            f"a ConfigMap named {meta['name']} already exists in {meta['namespace']} and is not "
            "a pipeline published by you: rename the pipeline file or remove that ConfigMap"
        )


def _restore(objects: Objects, mine: dict[str, Any], before: dict[str, Any]) -> None:
    """Put a replaced ConfigMap back to ``before`` (over our ``mine``)."""
    body = {k: v for k, v in before.items() if k != "status"}
    meta = {k: v for k, v in before["metadata"].items() if k not in _SERVER_FIELDS}
    body["metadata"] = meta | {"resourceVersion": mine["metadata"]["resourceVersion"]}
    with _updating(objects, "restore", mine["metadata"]["name"]):
        objects.api.replace(body=body, namespace=objects.namespace)


def _updating(objects: Objects, action: str, name: str) -> AbstractContextManager[None]:
    """Errors of a replace worded as ``action``; RBAC calls the verb ``update``."""
    what = f"{action} ConfigMap {objects.namespace}/{name}"
    return translated(what, CONFIGMAP, objects.namespace, verb="update")


#: Set by the API server; a restored ConfigMap is written without them.
_SERVER_FIELDS = ("uid", "creationTimestamp", "managedFields", "generation", "selfLink")


def task_pod_override(namespace: str, configmap: str, dags_folder: str) -> dict[str, Any]:
    """What the KubernetesExecutor changes in its pod template for a task published from
    ``namespace`` as ``configmap``: that namespace, the notebook service account, the platform
    environment, the user's MLflow credential from its Secret, and the pipeline's files mounted
    where the DAG processor saw them (a pod cannot mount the DAG volume of Airflow's
    namespace)."""
    return {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"namespace": namespace, "labels": {PIPELINE_LABEL: "task"}},
        "spec": {
            "serviceAccountName": NOTEBOOK_SERVICE_ACCOUNT,
            "containers": [
                {
                    "name": "base",  # the executor's container
                    "envFrom": [{"configMapRef": {"name": PLATFORM_ENV_CONFIGMAP}}],
                    "env": credential_references(optional=True),
                    "volumeMounts": [
                        {
                            "name": "pipeline",
                            "mountPath": f"{dags_folder.rstrip('/')}/{namespace}",
                            "readOnly": True,
                        }
                    ],
                }
            ],
            "volumes": [{"name": "pipeline", "configMap": {"name": configmap}}],
        },
    }


def configmap_name(filename: str) -> str:
    """The ConfigMap a pipeline file is published as."""
    return dns_label(f"pipeline-{PurePosixPath(filename).stem}")


def folder_namespace(fileloc: str, dags_folder: str) -> str | None:
    """The user namespace a DAG file was published from (its folder under ``dags_folder``)."""
    try:
        relative = PurePosixPath(fileloc).relative_to(dags_folder)
    except ValueError:
        return None
    parts = relative.parts
    if len(parts) < 2 or not parts[0].startswith(NAMESPACE_PREFIX):
        return None
    return parts[0]


def dag_policy(dag: Any, dags_folder: str) -> None:
    """Airflow cluster policy: tasks of a published DAG run in their user's namespace.

    Called from ``airflow_local_settings.dag_policy``; a DAG outside a user folder is the
    team's own and is left alone. The ``owner:`` tag is set from the folder, so the Pipelines
    panel's owner filter cannot be fooled by the file's text.
    """
    namespace = folder_namespace(str(dag.fileloc), dags_folder)
    if namespace is None:
        return
    user = namespace.removeprefix(NAMESPACE_PREFIX)
    dag.tags = {t for t in dag.tags if not str(t).startswith("owner:")} | {f"owner:{user}"}
    override = task_pod_override(namespace, configmap_name(str(dag.fileloc)), dags_folder)
    for task in dag.tasks:
        task.owner = user
        task.executor_config = {**(task.executor_config or {}), "pod_override": _pod(override)}


def _pod(manifest: Mapping[str, Any]) -> Any:
    """A ``V1Pod`` (what the executor expects) from a manifest."""
    from airflow.providers.cncf.kubernetes.pod_generator import PodGenerator

    return PodGenerator.deserialize_model_dict(dict(manifest))
