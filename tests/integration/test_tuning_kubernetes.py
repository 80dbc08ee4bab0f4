"""``parallel="kubernetes"``: the Indexed Job the platform builds is accepted by a real API
server (kubelite, which runs no controllers: no pod starts), then exactly the container command
of its pod template runs as local processes — with the Job's env, the Secret's storage URL, the
ConfigMap's objective and ``JOB_COMPLETION_INDEX`` — against a real PostgreSQL study storage.
The kernel side (never holding the URL) follows the pods' trial runs in MLflow. It submits as
the user's notebook service account (RBAC on), in a namespace the hub spawned with the spawner's
code."""

from __future__ import annotations

import base64
import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.tuning import TuningSpec, start
from jupyter_mlplat.tuning.storage import rdb_url
from tests.integration.test_spawner_kubelite import (
    can,
    eventually,
    spawn_as_hub,
    user,
    with_platform_rbac,
)
from tests.integration.test_tuning import TAG, check_study, forget_active_experiment, quadratic
from tests.unit.test_spawner_config import admission, dummy_kubeconfig

pytestmark = [pytest.mark.integration, pytest.mark.timeout(900)]

ROOT = Path(__file__).resolve().parents[2]
SECRET = "mlplat-tuning-storage"  # the default, which the admission policy admits
__all__ = ["dummy_kubeconfig"]  # the unit tests' fixture: KubeSpawner off any real cluster


@pytest.fixture
def user_namespace(kubelite):
    """A user's namespace as the hub spawns it; its notebook account may create Jobs."""
    namespace, _ = spawn_as_hub(with_platform_rbac(kubelite), user("kit"))
    notebook = kubelite.as_service_account(namespace, "mlplat-notebook")
    eventually(lambda: can(notebook, "create", "jobs", "batch", namespace))
    return namespace


@pytest.fixture(scope="module")
def tracking_uri(platform):
    """The session's MLflow server (the state other test files leave in this process's mlflow
    module, an active experiment or tracking URI, then names experiments that exist)."""
    return platform.tracking_uri


@pytest.fixture(scope="module")
def mlflow_client(tracking_uri):
    from mlflow import MlflowClient

    return MlflowClient(tracking_uri)


def read(kubelite, kind, name, namespace, api_version="v1"):
    api = kubelite.client.resources.get(api_version=api_version, kind=kind)
    return api.get(name=name, namespace=namespace).to_dict()


def run_pods(kubelite, job, namespace, folder):
    """What the Job controller and kubelet would do: one process per completion index, the
    container's command and env, the Secret's key and the ConfigMap's files resolved."""
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    mounts = {}
    for volume in pod["volumes"]:
        data = read(kubelite, "ConfigMap", volume["configMap"]["name"], namespace)
        target = folder / volume["name"]
        target.mkdir(parents=True)
        for key, value in data["binaryData"].items():
            (target / key).write_bytes(base64.b64decode(value))
        mounts[volume["name"]] = target
    paths = {m["mountPath"]: mounts[m["name"]] for m in container["volumeMounts"]}
    env = {}
    for variable in container["env"]:
        if "valueFrom" in variable:
            ref = variable["valueFrom"]["secretKeyRef"]
            secret = read(kubelite, "Secret", ref["name"], namespace)
            env[variable["name"]] = base64.b64decode(secret["data"][ref["key"]]).decode()
            continue
        value = variable.get("value", "")  # the API drops empty values
        for mount_path, local in paths.items():
            value = value.replace(mount_path, str(local))
        env[variable["name"]] = value
    base = {
        "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}",  # the image's python
        "PYTHONPATH": str(ROOT),
        "HOME": str(folder),
    }
    processes = [
        subprocess.Popen(
            container["command"],
            env={**base, **env, "HOME": str(folder), "JOB_COMPLETION_INDEX": str(index)},
            stdout=(folder / f"pod-{index}.log").open("wb"),
            stderr=subprocess.STDOUT,
        )
        for index in range(job["spec"]["completions"])
    ]
    codes = [p.wait(600) for p in processes]
    logs = "\n".join(p.read_text() for p in sorted(folder.glob("pod-*.log")))
    assert codes == [0] * len(codes), logs


def test_indexed_job_runs_trials_against_postgres(
    tracking_uri,
    kubelite,
    user_namespace,
    postgres_url,
    tmp_path,
    monkeypatch,
    mlflow_client,
):
    k8s_namespace = user_namespace
    secrets = kubelite.client.resources.get(api_version="v1", kind="Secret")  # the admin's
    secrets.create(
        body={"metadata": {"name": SECRET}, "stringData": {"url": postgres_url}},
        namespace=k8s_namespace,
    )
    monkeypatch.setenv("MLFLOW_TRACKING_URI", tracking_uri)
    forget_active_experiment(monkeypatch)
    config = MLPlat(
        env={
            "MLP_TRACKING_URI": tracking_uri,
            "MLP_USER": "ada",
            "MLP_EXPERIMENT": "/Users/ada/tuning-kubernetes",
            "MLP_NAMESPACE": k8s_namespace,
            "MLP_TUNING_STORAGE_SECRET_NAME": SECRET,
            "MLP_TUNING_DIR": str(tmp_path / "studies"),
        }
    )
    spec = TuningSpec(trials=20, parallel="kubernetes", workers=3, study_name="k8s-quadratic")
    notebook = f"system:serviceaccount:{k8s_namespace}:mlplat-notebook"
    run = start(quadratic, spec, config=config, api_client=kubelite.api_client(act_as=notebook))
    assert not run.done

    job = read(kubelite, "Job", run.job_name, k8s_namespace, "batch/v1")
    config_map = read(kubelite, "ConfigMap", run.job_name, k8s_namespace)
    assert postgres_url not in json.dumps(job) + json.dumps(config_map)
    assert config_map["metadata"]["ownerReferences"][0]["uid"] == job["metadata"]["uid"]
    assert admission("jobs", job, notebook, k8s_namespace) == []  # a real cluster's policy
    assert job["spec"]["completionMode"] == "Indexed"
    assert job["spec"]["completions"] == job["spec"]["parallelism"] == 3
    pod = job["spec"]["template"]["spec"]
    (container,) = pod["containers"]
    assert container["command"] == ["python", "-m", "jupyter_mlplat.tuning.worker"]
    assert container["image"] == config.tuning_image
    assert pod["restartPolicy"] == "Never" and pod["automountServiceAccountToken"] is False
    # restricted Pod Security: what upstream's admission enforces in a labelled namespace
    assert pod["securityContext"]["runAsNonRoot"] is True
    assert pod["securityContext"]["seccompProfile"]["type"] == "RuntimeDefault"
    security = container["securityContext"]
    assert security["allowPrivilegeEscalation"] is False
    assert security["capabilities"]["drop"] == ["ALL"]
    assert container["resources"]["limits"] == container["resources"]["requests"]
    assert {"secretKeyRef": {"name": SECRET, "key": "url"}} in [
        v.get("valueFrom") for v in container["env"]
    ]

    run_pods(kubelite, job, k8s_namespace, tmp_path / "pods")
    result = run.wait(120)
    by_state = check_study(mlflow_client, result, 20, storage="rdb")
    assert by_state.get("pruned"), "the median pruner pruned nothing in 20 trials"
    parent = mlflow_client.get_run(result.parent_run_id)
    assert parent.data.tags[f"{TAG}parallel"] == "kubernetes"
    stored = optuna.load_study(
        study_name=f"k8s-quadratic.{result.parent_run_id}", storage=rdb_url(postgres_url)
    )
    assert len(stored.trials) == 20
    assert stored.best_value == pytest.approx(result.best_value)
    # the kernel's study (for plots) holds the finished trials it read back from MLflow
    plotted = run.study.get_trials(deepcopy=False)
    assert len(plotted) == result.progress.complete + result.progress.pruned
    assert run.study.best_value == pytest.approx(result.best_value)
