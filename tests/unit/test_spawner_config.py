"""spawner_config/: the pod KubeSpawner builds for a user (no cluster: ``_mock=True``)."""

from __future__ import annotations

import asyncio
import os
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPAWNER_CONFIG = ROOT / "spawner_config"


@pytest.fixture(scope="module", autouse=True)
def dummy_kubeconfig(tmp_path_factory):
    """KubeSpawner loads a kubeconfig at import; a dummy one keeps it off any real cluster."""
    path = tmp_path_factory.mktemp("kube") / "config"
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "x", "cluster": {"server": "https://127.0.0.1:9"}}],
                "users": [{"name": "x", "user": {"token": "x"}}],
                "contexts": [{"name": "x", "context": {"cluster": "x", "user": "x"}}],
                "current-context": "x",
            }
        )
    )
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("KUBECONFIG", str(path))
        patch.syspath_prepend(str(SPAWNER_CONFIG))
        yield path


def hub_config(**platform):
    import mlplat_spawner
    from traitlets.config import Config

    c = Config()
    for name, value in platform.items():
        setattr(c.MLPlat, name, value)
    mlplat_spawner.configure(c, image="registry.example/mlplat/notebook:1")
    return c


def spawn(c, name="ada", profile=""):
    """A mocked KubeSpawner for user ``name`` with ``profile`` loaded; its pod manifest."""
    import mlplat_spawner
    from kubespawner import KubeSpawner

    class User:
        url = f"/user/{name}/"
        id = 1

    User.name = name

    async def build():
        spawner = KubeSpawner(config=c, _mock=True, user=User())  # its client needs a loop
        spawner.user_options = {"profile": profile} if profile else {}
        await spawner.load_user_options()
        pod = await spawner.get_pod_manifest()
        return spawner, mlplat_spawner.modify_pod_hook(spawner, pod)

    return asyncio.run(build())


def env_of(pod) -> dict[str, str]:
    return {e.name: e.value for e in pod.spec.containers[0].env}


def test_pod_has_the_users_platform_settings_namespace_and_service_account():
    c = hub_config(tracking_uri="http://mlflow.team.svc:5000", spark_executors_max=8)
    spawner, pod = spawn(c, "Ada.Lovelace")
    env = env_of(pod)
    assert spawner.namespace == env["MLP_NAMESPACE"]  # the pod is created there
    assert env["MLP_NAMESPACE"].startswith("mlplat-ada")
    assert env["MLP_USER"] == "Ada.Lovelace"
    assert env["MLP_TRACKING_URI"] == "http://mlflow.team.svc:5000"
    assert env["MLP_SPARK_MODE"] == "kubernetes"
    assert env["MLP_DEPLOY_TARGET"] == "kserve"
    assert env["MLP_SPARK_EXECUTORS_MAX"] == "8"
    assert env["MLP_SPARK_SERVICE_ACCOUNT"] == "spark"
    assert env["MLP_KSERVE_SERVICE_ACCOUNT"] == "mlplat-models"
    assert pod.spec.service_account_name == "mlplat-notebook"
    assert pod.spec.automount_service_account_token is True
    assert pod.spec.containers[0].image == "registry.example/mlplat/notebook:1"
    assert pod.spec.containers[0].args[0] == "jupyterhub-singleuser"


def test_every_setting_the_config_reads_is_set_or_deliberately_left_to_its_default():
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.hub.environment import LEFT_TO_DEFAULT

    _, pod = spawn(hub_config())
    env = env_of(pod)
    read = {t.metadata["env"][0] for t in MLPlat(env={}).traits(env=bool).values()}
    assert read - set(LEFT_TO_DEFAULT) <= env.keys()
    assert not (set(LEFT_TO_DEFAULT) & env.keys())
    # and what the pod gets is what the server will read back
    settings = MLPlat(env=env)
    assert settings.user == "ada" and settings.spark_mode == "kubernetes"


def test_no_storage_secret_reaches_the_pod_even_from_the_hubs_environment(monkeypatch):
    from jupyter_mlplat.hub.environment import is_storage_secret

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAHUBHUBHUB")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "hub-secret")
    monkeypatch.setenv("MLFLOW_S3_ENDPOINT_URL", "http://minio:9000")
    monkeypatch.setenv("MLP_SPARK_IMAGE", "team/spark:4.3.0")  # team settings do pass
    c = hub_config()
    c.KubeSpawner.env_keep = ["AWS_ACCESS_KEY_ID"]  # even when an admin asks for one
    c.KubeSpawner.environment.update({"AWS_SECRET_ACCESS_KEY": "typed-into-the-config"})
    _, pod = spawn(c)
    env = env_of(pod)
    assert env["MLP_SPARK_IMAGE"] == "team/spark:4.3.0"
    assert not [name for name in env if is_storage_secret(name)]
    assert "hub-secret" not in str(pod.to_dict())
    assert "AKIAHUBHUBHUB" not in str(pod.to_dict())


def test_secret_backed_variables_are_dropped_from_the_pod():
    c = hub_config()
    c.KubeSpawner.extra_container_config = {
        "env_from": [{"secretRef": {"name": "team-s3"}}, {"configMapRef": {"name": "team"}}]
    }
    c.KubeSpawner.environment.update(
        {"TEAM_KEY": {"valueFrom": {"secretKeyRef": {"name": "team-s3", "key": "k"}}}}
    )
    _, pod = spawn(c)
    container = str(pod.spec.containers[0])
    assert "configMapRef" in container
    assert "team-s3" not in container and "TEAM_KEY" not in container


@pytest.mark.parametrize(
    ("profile", "cpu", "memory", "gpu"),
    [("", 1, 4 << 30, None), ("large", 4, 16 << 30, None), ("gpu", 4, 32 << 30, "1")],
)
def test_profiles_set_resources_and_images(profile, cpu, memory, gpu):
    _, pod = spawn(hub_config(), profile=profile)
    limits = pod.spec.containers[0].resources.limits
    assert (limits["cpu"], limits["memory"], limits.get("nvidia.com/gpu")) == (cpu, memory, gpu)
    assert pod.spec.containers[0].image == "registry.example/mlplat/notebook:1"
    if gpu:
        assert pod.spec.node_selector == {"nvidia.com/gpu.present": "true"}


def test_user_resources_bind_the_roles_to_the_users_service_accounts_only():
    import mlplat_spawner

    resources = mlplat_spawner.user_resources(
        "mlplat-ada", "ada", models_annotations={"eks.amazonaws.com/role-arn": "arn:x"}
    )
    kinds = [r["kind"] for r in resources]
    assert kinds[0] == "Namespace" and kinds.count("ServiceAccount") == 3
    bindings = [r for r in resources if r["kind"] == "RoleBinding"]
    assert {(b["roleRef"]["name"], b["subjects"][0]["name"]) for b in bindings} == {
        ("mlplat-notebook", "mlplat-notebook"),
        ("mlplat-spark", "spark"),
    }
    assert all(r["metadata"].get("namespace", "mlplat-ada") == "mlplat-ada" for r in resources)
    roles = [r for r in resources if r["kind"] == "Role"]
    granted = {res for role in roles for rule in role["rules"] for res in rule["resources"]}
    assert "secrets" not in granted
    notebook = next(r for r in roles if r["metadata"]["name"] == "mlplat-notebook")
    pod_rules = [rule for rule in notebook["rules"] if "pods" in rule["resources"]]
    assert all("create" not in rule["verbs"] for rule in pod_rules)


def test_the_hub_holds_every_permission_it_grants():
    """Kubernetes refuses a Role that grants more than its creator holds."""
    import mlplat_spawner

    hub = next(yaml.safe_load_all((SPAWNER_CONFIG / "rbac" / "hub-clusterrole.yaml").read_text()))
    held = {
        (group, resource, verb)
        for rule in hub["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
    }
    for role in mlplat_spawner.user_roles():
        for rule in role["rules"]:
            for group in rule["apiGroups"]:
                for resource in rule["resources"]:
                    for verb in rule["verbs"]:
                        assert (group, resource, verb) in held, (role["metadata"], resource, verb)


def test_plain_config_file_and_z2jh_values_load(monkeypatch):
    from traitlets.config import Config

    c = Config()
    code = (SPAWNER_CONFIG / "jupyterhub_config.py").read_text()
    exec(
        compile(code, "jupyterhub_config.py", "exec"),
        {"get_config": lambda: c, "__file__": str(SPAWNER_CONFIG / "jupyterhub_config.py")},
    )
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    _, pod = spawn(c)
    assert env_of(pod)["MLP_TRACKING_URI"] == "http://mlflow.mlflow.svc.cluster.local:5000"

    values = yaml.safe_load((SPAWNER_CONFIG / "values.yaml").read_text())
    assert "mlplat_spawner.configure(c" in values["hub"]["extraConfig"]["mlplat"]
    slugs = [p["slug"] for p in values["singleuser"]["profileList"]]
    assert slugs == [p["slug"] for p in __import__("mlplat_spawner").profiles()]
    assert values["singleuser"]["serviceAccountName"] == "mlplat-notebook"
    assert os.environ["KUBECONFIG"]  # never a real cluster
    assert "mlplat_spawner" in sys.modules
