"""``kubernetes``: an Indexed Job of notebook-image pods, each running the trial worker command
against an RDB study storage. The storage URL stays in a Secret the pods read (the kernel only
names it); the objective travels in a ConfigMap owned by the Job. The pods log their own trial
runs (the kernel cannot read the storage) with the parent run id given explicitly, as the user:
with tracking auth, the user's MLflow credential comes from the Secret the hub keeps in the
user's namespace (by reference: the value is not in the Job). The kernel submits as the
notebook's service account (``spawner_config/rbac/user-roles.yaml``); in a cluster the admission
policy ``mlplat-user-jobs`` admits a user's Job only with this shape of pod (runs as ``default``,
no Secret but these two)."""

from __future__ import annotations

import base64
from functools import partial
from typing import Any

from jupyter_mlplat.config import USER_CREDENTIAL_VARIABLES, MLPlat
from jupyter_mlplat.errors import InvalidInput, MLPlatError
from jupyter_mlplat.infra.kube import Kind, Objects, Rollback, dns_label, owner_labels
from jupyter_mlplat.tracking.auth import credential_references, user_credential
from jupyter_mlplat.tuning import worker as w

JOB = Kind("batch", "v1", "Job", "jobs")
CONFIG_MAP = Kind("", "v1", "ConfigMap", "configmaps")
#: Where the pods find the objective (the ConfigMap's volume).
MOUNT = "/var/run/mlplat-tuning"
OBJECTIVE_KEY = "objective.pkl"
#: ConfigMaps hold at most 1 MiB, with their metadata.
MAX_OBJECTIVE = 900 * 1024
STUDY_LABEL = "jupyter-mlplat/study"
COMMAND = ["python", "-m", "jupyter_mlplat.tuning.worker"]


def job_name(study_name: str, parent_run_id: str) -> str:
    """One Job per session of a study: room for the pods' ``-<index>-<hash>`` suffixes."""
    return dns_label(f"tune-{study_name}-{parent_run_id[:8]}", 50)


def manifests(
    config: MLPlat,
    *,
    name: str,
    study_name: str,
    payload: bytes,
    workers: int,
    env: dict[str, str],
    tracking_credential: bool | None = None,
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ConfigMap with the objective and the Indexed Job running ``workers`` pods at once.

    ``env`` holds the worker's plain settings; the storage URL comes from the Secret
    ``config.tuning_storage_secret`` (key ``url``); with ``tracking_credential`` (default:
    whether this process has an MLflow user, i.e. tracking auth is on) the MLflow credential
    from the user's Secret. Pods follow the restricted Pod Security Standard and carry
    requests = limits."""
    if len(payload) > MAX_OBJECTIVE:
        raise InvalidInput(
            f"the objective pickles to {len(payload) // 1024} KiB, more than a ConfigMap holds "
            "(900 KiB): load large data inside the objective instead of capturing it"
        )
    labels = {**owner_labels(config.resolved_user), STUDY_LABEL: dns_label(study_name)}
    meta = {"name": name, "namespace": config.namespace, "labels": labels}
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta,
        "binaryData": {OBJECTIVE_KEY: base64.b64encode(payload).decode()},
    }
    resources = {"cpu": config.tuning_pod_cpu, "memory": config.tuning_pod_memory}
    variables: list[dict[str, Any]] = [
        {"name": k, "value": v}
        for k, v in sorted(env.items())
        if k not in USER_CREDENTIAL_VARIABLES  # never a credential's value in the spec
    ]
    if bool(user_credential()) if tracking_credential is None else tracking_credential:
        variables += credential_references()
    variables += [
        {"name": w.ENV_OBJECTIVE, "value": f"{MOUNT}/{OBJECTIVE_KEY}"},
        {
            "name": w.ENV_STORAGE,
            "valueFrom": {"secretKeyRef": {"name": config.tuning_storage_secret, "key": "url"}},
        },
        {"name": "HOME", "value": "/tmp"},  # noqa: S108 (the image's home may be read-only)
    ]
    container = {
        "name": "trials",
        "image": config.tuning_image,
        "command": COMMAND,
        "env": variables,
        "resources": {"requests": resources, "limits": resources},
        "volumeMounts": [{"name": "objective", "mountPath": MOUNT, "readOnly": True}],
        "securityContext": {
            "allowPrivilegeEscalation": False,
            "capabilities": {"drop": ["ALL"]},
            "runAsNonRoot": True,
            "seccompProfile": {"type": "RuntimeDefault"},
        },
    }
    job = {
        "apiVersion": "batch/v1",
        "kind": "Job",
        "metadata": meta,
        "spec": {
            "completionMode": "Indexed",
            "completions": workers,
            "parallelism": workers,
            "backoffLimitPerIndex": 1,  # a pod lost with its node is retried once
            "ttlSecondsAfterFinished": 24 * 3600,
            "template": {
                "metadata": {"labels": labels},
                "spec": {
                    "restartPolicy": "Never",
                    "automountServiceAccountToken": False,  # workers never call the API
                    "securityContext": {
                        "runAsNonRoot": True,
                        "seccompProfile": {"type": "RuntimeDefault"},
                    },
                    "containers": [container],
                    "volumes": [{"name": "objective", "configMap": {"name": name}}],
                },
            },
        },
    }
    return config_map, job


def submit(config: MLPlat, config_map: dict[str, Any], job: dict[str, Any],
           api_client: Any = None) -> dict[str, Any]:  # fmt: skip
    """Create the ConfigMap, then the Job, then make the Job own the ConfigMap (deleted with it):
    all or nothing. When a step fails (403, 409, 422, a timeout), what the earlier steps created
    is deleted again (by uid: never a namesake) and the failure raised in one line."""
    namespace, name = config.namespace, job["metadata"]["name"]
    maps = Objects(CONFIG_MAP, namespace, api_client=api_client)
    jobs = Objects(JOB, namespace, client=maps.client)
    with Rollback("delete what was created") as rollback:
        with maps.translated("create", name):
            made_map = maps.api.create(body=config_map, namespace=namespace).to_dict()
        rollback.add(lambda: maps.delete(made_map))
        try:
            with jobs.translated("create", name):
                made = dict(jobs.api.create(body=job, namespace=namespace).to_dict())
        except MLPlatError as err:
            for found in _maybe_created(jobs, job, err):
                rollback.add(partial(jobs.delete, found, "Background"))
            raise
        rollback.add(lambda: jobs.delete(made, "Background"))  # with its pods
        owner = {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "name": name,
            "uid": made["metadata"]["uid"],
            "blockOwnerDeletion": False,
        }
        with maps.translated("patch", name):
            maps.api.patch(
                name=name,
                namespace=namespace,
                body={"metadata": {"ownerReferences": [owner]}},
                content_type="application/merge-patch+json",
            )
    return made


def _maybe_created(jobs: Objects, job: dict[str, Any], err: MLPlatError) -> list[dict[str, Any]]:
    """After a create that got no answer (a timeout), the Job may exist all the same: this
    submission's (same name and labels) is then undone too. An API answer means not."""
    from kubernetes.client.exceptions import ApiException

    if isinstance(err.__cause__, ApiException):
        return []
    try:
        found = jobs.get(job["metadata"]["name"])
    except MLPlatError:
        return []  # still unreachable: the Job's objective is gone, its pods cannot start
    labels = (found or {}).get("metadata", {}).get("labels") or {}
    # the name holds the study's session (parent run id): same name and labels is this one
    return [found] if found is not None and labels == job["metadata"]["labels"] else []


def job_state(config: MLPlat, name: str, api_client: Any = None) -> str:
    """``complete``, ``failed``, ``gone`` or ``running`` (no condition yet: also where no
    controller runs)."""
    found = Objects(JOB, config.namespace, api_client=api_client).get(name)
    if found is None:
        return "gone"
    for condition in (found.get("status") or {}).get("conditions") or []:
        if condition.get("status") == "True" and condition.get("type") in ("Complete", "Failed"):
            return "complete" if condition["type"] == "Complete" else "failed"
    return "running"
