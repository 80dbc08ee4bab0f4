"""spawner_config/: the pod KubeSpawner builds for a user (no cluster: ``_mock=True``)."""

from __future__ import annotations

import asyncio
import functools
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
        patch.setenv("POD_NAMESPACE", "jhub")  # the hub's namespace, as z2jh sets it
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
        groups = ()  # JupyterHub's Group objects (their name)

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
    from jupyter_mlplat.config import MLPlat

    c = hub_config(tracking_uri="http://mlflow.team.svc:5000", spark_executors_max=8)
    spawner, pod = spawn(c, "Ada.Lovelace")
    env = env_of(pod)
    assert spawner.namespace == env["MLP_NAMESPACE"]  # the pod is created there
    assert env["MLP_NAMESPACE"].startswith("mlplat-ada")
    assert env["MLP_USER"] == "Ada.Lovelace"
    assert env["MLP_TRACKING_URI"] == "http://mlflow.team.svc:5000"
    assert env["MLP_SPARK_MODE"] == "kubernetes"
    assert env["MLP_DEPLOY_TARGET"] == "kserve"
    assert env["MLP_PIPELINES_PUBLISH"] == "kubernetes"  # the team's Airflow reads no pod folder
    assert env["MLP_SPARK_EXECUTORS_MAX"] == "8"
    assert env["MLP_SPARK_SERVICE_ACCOUNT"] == "spark"
    assert env["MLP_KSERVE_SERVICE_ACCOUNT"] == "mlplat-models"
    # the platform detects KServe's mode (KServe 0.20's default: Standard), never forced
    assert env["MLP_KSERVE_MODE"] == MLPlat(env={}).kserve_mode
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


def test_only_the_users_mlflow_credential_comes_from_a_secret():
    from jupyter_mlplat.tracking.auth import CREDENTIAL_SECRET, credential_references

    c = hub_config()
    refs = {r["name"]: {"valueFrom": r["valueFrom"]} for r in credential_references()}
    # the credential's variable names from another Secret are dropped like any other
    stolen = {"valueFrom": {"secretKeyRef": {"name": "mlplat-models-s3", "key": "password"}}}
    c.KubeSpawner.environment.update({**refs, "MLFLOW_TRACKING_TOKEN": stolen})
    _, pod = spawn(c)
    env = {e.name: e for e in pod.spec.containers[0].env}
    assert "MLFLOW_TRACKING_TOKEN" not in env and "mlplat-models-s3" not in str(pod.to_dict())
    for name in refs:  # KubeSpawner keeps a dict given for valueFrom as it is
        assert env[name].value is None
        assert env[name].value_from["secretKeyRef"]["name"] == CREDENTIAL_SECRET


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


def yaml_documents(*parts: str) -> list[dict]:
    """The documents of a YAML file under ``spawner_config/``."""
    return [d for d in yaml.safe_load_all(SPAWNER_CONFIG.joinpath(*parts).read_text()) if d]


def rules_of(role: dict) -> set[tuple[str, str, str, str]]:
    """(group, resource, verb, name) of each rule ('' name: every object)."""
    return {
        (group, resource, verb, name)
        for rule in role["rules"]
        for group in rule["apiGroups"]
        for resource in rule["resources"]
        for verb in rule["verbs"]
        for name in rule.get("resourceNames") or [""]
    }


def test_user_resources_bind_the_user_clusterroles_in_the_users_namespace_only():
    import mlplat_spawner

    from jupyter_mlplat.infra.kube import owner_labels

    resources = mlplat_spawner.user_resources(
        "mlplat-ada", "Ada", models_annotations={"eks.amazonaws.com/role-arn": "arn:x"}
    )
    kinds = [r["kind"] for r in resources]
    assert kinds == ["Namespace", *["ServiceAccount"] * 3, *["RoleBinding"] * 3]
    namespace = resources[0]["metadata"]
    # the Spark Operator's jobNamespaceSelector and the admission policy select on this label
    assert namespace["labels"]["mlplat.io/user-namespace"] == "true"
    assert namespace["labels"].items() >= owner_labels("Ada").items()  # as all platform objects
    bindings = [r for r in resources if r["kind"] == "RoleBinding"]
    bound = {
        (b["roleRef"]["kind"], b["roleRef"]["name"], b["subjects"][0]["name"]) for b in bindings
    }
    assert bound == {
        ("ClusterRole", "mlplat-notebook", "mlplat-notebook"),
        ("ClusterRole", "mlplat-spark", "spark"),
        ("ClusterRole", "mlplat-tracking-credential", "mlplat-notebook"),
    }
    assert all(r["metadata"].get("namespace", "mlplat-ada") == "mlplat-ada" for r in resources)
    assert all(b["subjects"][0]["namespace"] == "mlplat-ada" for b in bindings)


def test_user_clusterroles_grant_no_secrets_rbac_or_pod_creation_to_the_notebook():
    roles = {r["metadata"]["name"]: r for r in yaml_documents("rbac", "user-roles.yaml")}
    assert set(roles) == {"mlplat-notebook", "mlplat-spark", "mlplat-tracking-credential"}
    assert all(r["kind"] == "ClusterRole" for r in roles.values())
    granted = {rule for role in roles.values() for rule in rules_of(role)}
    # one Secret, by name, read only: the user's own MLflow credential
    assert {g for g in granted if g[1] == "secrets"} == {
        ("", "secrets", "get", "mlplat-mlflow-credential")
    }
    assert not {g for g in granted if g[1] == "*" or g[0].startswith("rbac.")}
    assert not {g for g in granted if "*" in g[2] or g[2] in {"escalate", "bind", "impersonate"}}
    assert ("", "pods", "create", "") not in rules_of(roles["mlplat-notebook"])
    assert ("", "pods", "create", "") in rules_of(roles["mlplat-spark"])  # executors


def test_the_notebook_account_may_submit_and_undo_tuning_jobs_and_nothing_more():
    """What ``tuning/kubernetes.py`` does (submit: create the ConfigMap and the Job, own the
    ConfigMap by the Job; undo: delete them; follow: get/watch the Job), no CronJobs, no
    ConfigMap reads or updates."""
    roles = {r["metadata"]["name"]: r for r in yaml_documents("rbac", "user-roles.yaml")}
    notebook = rules_of(roles["mlplat-notebook"])
    assert {(r, v) for g, r, v, n in notebook if g == "batch"} == {
        ("jobs", verb) for verb in ("get", "list", "watch", "create", "delete")
    }
    assert {v for g, r, v, n in notebook if r == "configmaps"} == {"create", "patch", "delete"}
    granted = {rule for role in roles.values() for rule in rules_of(role)}
    assert not {g for g in granted if g[1] in {"cronjobs", "jobs/status", "deployments"}}


def test_the_hub_binds_the_user_clusterroles_by_name_and_holds_no_user_rules():
    """The hub grants users' rules through ``bind`` on the user ClusterRoles, so it need not hold
    them (Kubernetes' escalation check); it reads no Secrets (it writes the user's MLflow
    credential) and holds nothing by wildcard."""
    import mlplat_spawner

    hub = next(
        d for d in yaml_documents("rbac", "hub-clusterrole.yaml") if d["kind"] == "ClusterRole"
    )
    held = rules_of(hub)
    assert {(r, n) for g, r, v, n in held if v == "bind"} == {
        ("clusterroles", name) for name in mlplat_spawner.USER_CLUSTER_ROLES
    }
    assert not {h for h in held if "*" in h or h[1] in {"roles", "clusterrolebindings"}}
    assert {h for h in held if h[1] == "secrets"} == {
        ("", "secrets", "create", ""),
        ("", "secrets", "patch", "mlplat-mlflow-credential"),
    }
    assert not {h for h in held if h[0] in {"sparkoperator.k8s.io", "serving.kserve.io"}}
    assert not {h for h in held if h[1] == "namespaces" and h[2] in {"update", "patch", "delete"}}
    assert ("rbac.authorization.k8s.io", "rolebindings", "create", "") in held
    user_roles = {r["metadata"]["name"] for r in yaml_documents("rbac", "user-roles.yaml")}
    assert user_roles == set(mlplat_spawner.USER_CLUSTER_ROLES)


def test_hub_connect_url_is_fully_qualified(tmp_path):
    """Per-user namespaces do not resolve the hub's short Service name (z2jh's default
    ``hub_connect_url`` is ``http://hub:8081``, ``jupyterhub/files/hub/jupyterhub_config.py`` of
    jupyterhub/zero-to-jupyterhub-k8s)."""
    import mlplat_spawner

    env = {"POD_NAMESPACE": "jhub", "HUB_SERVICE_PORT": "8081"}
    url = mlplat_spawner.hub_connect_url(env)
    assert url == "http://hub.jhub.svc.cluster.local:8081"
    token_dir = tmp_path / "namespace"
    token_dir.write_text("team-hub\n")
    url = mlplat_spawner.hub_connect_url({}, service="my-hub", namespace_file=token_dir)
    assert url == "http://my-hub.team-hub.svc.cluster.local:8081"
    assert mlplat_spawner.hub_connect_url(
        {"POD_NAMESPACE": "x", "MY_HUB_SERVICE_PORT": "9"}, service="my-hub"
    ).endswith("my-hub.x.svc.cluster.local:9")


def test_user_pods_may_reach_the_hub_across_namespaces(monkeypatch):
    """z2jh's hub NetworkPolicy admits pods labelled ``hub.jupyter.org/network-access-hub:
    "true"``, from other namespaces only with ``interNamespaceAccessLabels: accept``
    (``jupyterhub/templates/hub/netpol.yaml``; the value's enum is in
    ``jupyterhub/values.schema.yaml``, zero-to-jupyterhub-k8s)."""
    from traitlets.config import Config

    monkeypatch.setenv("POD_NAMESPACE", "jhub")
    c = Config()
    c.KubeSpawner.extra_labels = {"team": "vision"}  # what z2jh's singleuser.extraLabels sets
    import mlplat_spawner

    mlplat_spawner.configure(c, image="registry.example/mlplat/notebook:1")
    assert c.JupyterHub.hub_connect_url == "http://hub.jhub.svc.cluster.local:8081"
    _, pod = spawn(c, "ada")
    labels = pod.metadata.labels
    assert labels["hub.jupyter.org/network-access-hub"] == "true"
    assert labels["team"] == "vision"  # the admin's labels stay
    _, pod = spawn(hub_config(), "bob")  # and without any admin labels
    assert pod.metadata.labels["hub.jupyter.org/network-access-hub"] == "true"

    values = yaml.safe_load((SPAWNER_CONFIG / "values.yaml").read_text())
    assert values["hub"]["networkPolicy"]["interNamespaceAccessLabels"] == "accept"
    assert values["singleuser"]["extraLabels"]["hub.jupyter.org/network-access-hub"] == "true"
    assert c.KubeSpawner.user_namespace_labels["mlplat.io/user-namespace"] == "true"
    assert c.KubeSpawner.user_namespace_labels["pod-security.kubernetes.io/enforce"] == "baseline"


def test_plain_config_file_and_z2jh_values_load(monkeypatch):
    from traitlets.config import Config

    c = Config()
    code = (SPAWNER_CONFIG / "jupyterhub_config.py").read_text()
    exec(
        compile(code, "jupyterhub_config.py", "exec"),
        {"get_config": lambda: c, "__file__": str(SPAWNER_CONFIG / "jupyterhub_config.py")},
    )
    assert c.JupyterHub.spawner_class == "kubespawner.KubeSpawner"
    assert c.JupyterHub.hub_connect_url == "http://hub.jhub.svc.cluster.local:8081"
    _, pod = spawn(c)
    assert env_of(pod)["MLP_TRACKING_URI"] == "http://mlflow.mlflow.svc.cluster.local:5000"

    values = yaml.safe_load((SPAWNER_CONFIG / "values.yaml").read_text())
    assert "mlplat_spawner.configure(c" in values["hub"]["extraConfig"]["mlplat"]
    slugs = [p["slug"] for p in values["singleuser"]["profileList"]]
    assert slugs == [p["slug"] for p in __import__("mlplat_spawner").profiles()]
    assert values["singleuser"]["serviceAccountName"] == "mlplat-notebook"
    assert os.environ["KUBECONFIG"]  # never a real cluster
    assert "mlplat_spawner" in sys.modules


# -- the admission policy guarding the serving identity ----------------------------------------
# The Kubernetes API server evaluates a ValidatingAdmissionPolicy's CEL against the request's
# object as plain JSON (k8s.io/apiserver .../policy/validating: objectToResolveVal), `object`,
# `request` and `variables` typed dyn. Two independent CEL implementations evaluate the very
# same expressions from the shipped YAML here, and must agree: cel-python (pure Python) and
# cel-expr-python (Google's CEL C++ runtime, with its type checker at compile time). The order
# is the server's: matchConditions, then the variables in order, then each validation (a false
# one denies with its message; an error would deny too, under failurePolicy: Fail).
POLICY = ("cluster", "serving-identity-policy.yaml")


@functools.cache
def celpy_program(expression: str):
    """A compiled CEL expression (compiling is the slow part of cel-python)."""
    import celpy

    env = celpy.Environment()
    return env.program(env.compile(expression))


@functools.cache
def cel_cpp_program(expression: str):
    """The same expression compiled and type-checked by the CEL C++ runtime."""
    from cel_expr_python import cel

    dyn = cel.Type.DYN
    env = cel.NewEnv(variables={"object": dyn, "request": dyn, "variables": dyn})
    return env.compile(expression)


class CelPython:
    """cel-python: values stay CEL values between variables."""

    def __init__(self, obj: dict, request: dict) -> None:
        import celpy

        self.activation = {
            "object": celpy.json_to_cel(obj),
            "request": celpy.json_to_cel(request),
            "variables": celpy.celtypes.MapType(),
        }

    def evaluate(self, expression: str):
        import celpy

        result = celpy_program(expression).evaluate(self.activation)
        assert not isinstance(result, celpy.CELEvalError), (expression, result)
        return result

    def bind(self, name: str, value) -> None:
        import celpy

        self.activation["variables"][celpy.celtypes.StringType(name)] = value

    def check(self, expression: str) -> bool:
        import celpy

        result = self.evaluate(expression)
        assert isinstance(result, celpy.celtypes.BoolType), (expression, result)
        return bool(result)


class CelCpp:
    """cel-expr-python (CEL C++): variables carried as plain values."""

    def __init__(self, obj: dict, request: dict) -> None:
        self.data: dict = {"object": obj, "request": request, "variables": {}}

    def evaluate(self, expression: str):
        from cel_expr_python import cel

        result = cel_cpp_program(expression).eval(data=self.data)
        assert result.type() != cel.Type.ERROR, (expression, result.value())
        return result.plain_value()

    def bind(self, name: str, value) -> None:
        self.data["variables"][name] = value

    def check(self, expression: str) -> bool:
        result = self.evaluate(expression)
        assert isinstance(result, bool), (expression, result)
        return result


def verdict(engine, policy: dict):
    """One engine's verdict: None = the policy does not apply, else the denial messages."""
    spec = policy["spec"]
    if not all(engine.check(c["expression"]) for c in spec.get("matchConditions", [])):
        return None
    for variable in spec.get("variables", []):
        engine.bind(variable["name"], engine.evaluate(variable["expression"]))
    return [c["message"] for c in spec["validations"] if not engine.check(c["expression"])]


def admission(resource: str, obj: dict, username: str, namespace: str = "mlplat-ada"):
    """The shipped policy's verdict on creating ``obj`` (of ``resource``, e.g. "pods") as
    ``username`` in a user namespace: the denial messages ([] = allowed), None = not matched."""
    policy = next(
        d
        for d in yaml_documents(*POLICY)
        if d["kind"] == "ValidatingAdmissionPolicy"
        and resource in d["spec"]["matchConstraints"]["resourceRules"][0]["resources"]
    )
    request = {
        "operation": "CREATE",
        "namespace": namespace,
        "userInfo": {"username": username, "groups": ["system:authenticated"]},
    }
    verdicts = [verdict(engine(obj, request), policy) for engine in (CelPython, CelCpp)]
    assert verdicts[0] == verdicts[1], verdicts  # the two implementations agree
    return verdicts[0]


USER_SA = "system:serviceaccount:mlplat-ada:"


def test_the_policy_is_bound_to_user_namespaces_and_is_well_formed():
    """Every policy has a Deny binding selecting the label the spawner puts on user namespaces;
    every field is one the v1 API knows (the client's models drop unknown ones)."""
    import mlplat_spawner
    from kubernetes.client import ApiClient

    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.tracking.auth import CREDENTIAL_SECRET

    docs = yaml_documents(*POLICY)
    policies = {d["metadata"]["name"]: d for d in docs if d["kind"] == "ValidatingAdmissionPolicy"}
    bindings = [d for d in docs if d["kind"] == "ValidatingAdmissionPolicyBinding"]
    assert {b["spec"]["policyName"] for b in bindings} == set(policies) and len(policies) == 4
    for binding in bindings:
        assert binding["spec"]["validationActions"] == ["Deny"]
        selector = binding["spec"]["matchResources"]["namespaceSelector"]["matchLabels"]
        assert selector == mlplat_spawner.USER_NAMESPACE_LABEL
    assert all(p["spec"]["failurePolicy"] == "Fail" for p in policies.values())
    api = ApiClient()
    for doc in docs:
        assert doc["apiVersion"] == "admissionregistration.k8s.io/v1"
        model = api._ApiClient__deserialize(doc, f"V1{doc['kind']}")
        assert api.sanitize_for_serialization(model) == doc
    # the names in the policy are the platform's defaults
    defaults = MLPlat(env={})
    text = SPAWNER_CONFIG.joinpath(*POLICY).read_text()
    assert f"'{defaults.kserve_service_account}'" in text
    assert f"['{defaults.spark_service_account}', 'default']" in text
    assert f"['{defaults.tuning_storage_secret}', '{CREDENTIAL_SECRET}']" in text


def test_what_the_platform_builds_is_admitted():
    """The SparkConnect of the Spark backend, the InferenceServices of the deploy service (every
    mode, with a canary) and Spark's executor pods pass the policy."""
    from typing import get_args

    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.deploy.kserve import Mode, build_manifest
    from jupyter_mlplat.deploy.models import Deployment, ModelRef, Revision
    from jupyter_mlplat.spark.kubernetes import KubernetesBackend

    config = MLPlat(env={"MLP_NAMESPACE": "mlplat-ada", "MLP_USER": "ada"})
    notebook = USER_SA + "mlplat-notebook"
    assert admission("sparkconnects", KubernetesBackend(config).manifest(), notebook) == []

    def revision(version: str, traffic: int = 100) -> Revision:
        uri = f"s3://mlflow/artifacts/1/models/m-{version}/artifacts"
        return Revision(ModelRef(f"models:/iris/{version}", "iris", version, "", uri), traffic)

    stable = Deployment("iris", "ada", "kserve", revision("1"))
    canary = Deployment("iris", "ada", "kserve", revision("1", 90), revision("2", 10))
    for mode in get_args(Mode):
        # a weighted canary exists only in Knative mode (Standard refuses one: issue 16 item 2)
        with_canary = [(canary, stable)] if mode == "Knative" else []
        for deployment, previous in [(stable, None), (stable, canary), *with_canary]:
            manifest = build_manifest(deployment, previous, mode, config)
            predictors = [manifest["spec"]["predictor"]]
            predictors += [c["predictor"] for c in manifest["spec"].get("canary", [])]
            assert {p["serviceAccountName"] for p in predictors} == {"mlplat-models"}
            assert admission("inferenceservices", manifest, notebook) == [], (mode, manifest)
    executor = {"spec": {"serviceAccountName": "spark", "containers": [{"name": "executor"}]}}
    assert admission("pods", executor, USER_SA + "spark") == []


def test_a_user_cannot_run_anything_of_their_own_as_the_serving_identity():
    notebook, spark = USER_SA + "mlplat-notebook", USER_SA + "spark"
    as_models = {"serviceAccountName": "mlplat-models"}
    # pods: the Spark server's account (the notebook's cannot create pods at all: RBAC)
    assert admission("pods", {"spec": as_models}, spark)
    assert admission("pods", {"spec": {"serviceAccount": "mlplat-models"}}, spark)
    assert admission("pods", {"spec": {"serviceAccountName": "mlplat-notebook"}}, spark)
    # ...while controllers outside the namespace (KServe's Deployment) are not this policy's
    controller = "system:serviceaccount:kube-system:replicaset-controller"
    assert admission("pods", {"spec": as_models}, controller) is None
    # (another user's accounts: RBAC keeps them out of this namespace, see the kubelite test)

    # SparkConnect: server or executor template, the deprecated alias, or Spark's own conf
    def spark_connect(**spec):
        return {"spec": {"sparkVersion": "4.0.0", **spec}}

    for part in ("server", "executor"):
        for field in ("serviceAccountName", "serviceAccount"):
            template = {"template": {"spec": {field: "mlplat-models"}}}
            assert admission("sparkconnects", spark_connect(**{part: template}), notebook)
    conf = {"spark.kubernetes.authenticate.executor.serviceAccountName": "mlplat-models"}
    assert admission("sparkconnects", spark_connect(sparkConf=conf), notebook)

    # InferenceService: the serving identity only for the platform's shape of predictor
    model = {"modelFormat": {"name": "mlflow"}, "storageUri": "s3://m/1"}

    def isvc(predictor: dict, **spec) -> dict:
        return {"spec": {"predictor": predictor, **spec}}

    container = [{"name": "x", "image": "me/steal:1", "command": ["sh"]}]
    denied = [
        isvc({**as_models, "containers": container}),
        isvc({"serviceAccount": "mlplat-models", "containers": container}),
        isvc({**as_models, "model": {**model, "image": "me/steal:1"}}),
        isvc({**as_models, "model": {**model, "command": ["sh", "-c", "env"]}}),
        isvc({**as_models, "model": {**model, "env": [{"name": "PYTHONSTARTUP", "value": "x"}]}}),
        isvc({**as_models, "model": model, "initContainers": container}),
        isvc({**as_models, "model": model, "volumes": [{"name": "v", "emptyDir": {}}]}),
        isvc({**as_models, "sklearn": {"storageUri": "s3://m/1", "image": "me/steal:1"}}),
        isvc({**as_models, "model": model, "workerSpec": {"containers": container}}),
        isvc({"serviceAccountName": "mlplat-notebook", "model": model}),
        isvc({"model": model}, transformer={**as_models, "containers": container}),
        isvc({"model": model}, explainer={"serviceAccount": "mlplat-models"}),
        isvc({"model": model, "workerSpec": as_models}),
        isvc({"model": model, "logger": {"storage": as_models}}),
        isvc(
            {**as_models, "model": model},
            canary=[{"trafficPercent": 10, "predictor": {**as_models, "containers": container}}],
        ),
    ]
    for obj in denied:
        assert admission("inferenceservices", obj, notebook), obj
    # a custom container of the user's own is fine when it runs as default
    allowed = isvc({"containers": container})
    assert admission("inferenceservices", allowed, notebook) == []


def test_nothing_a_user_starts_mounts_or_reads_a_secret_of_the_namespace():
    """A pod may mount any Secret of its namespace (the serving identity's S3 key among them):
    that would undo "no Secrets for users", so the policy refuses it wherever a user shapes a
    pod."""
    notebook, spark = USER_SA + "mlplat-notebook", USER_SA + "spark"
    key = {"secretKeyRef": {"name": "mlplat-models-s3", "key": "AWS_SECRET_ACCESS_KEY"}}
    secret_env = {"name": "steal", "image": "x", "env": [{"name": "K", "valueFrom": key}]}
    secret_env_from = {"name": "steal", "image": "x", "envFrom": [{"secretRef": {"name": "s"}}]}
    volume = {"name": "v", "secret": {"secretName": "mlplat-models-s3"}}
    projected = {"name": "v", "projected": {"sources": [{"secret": {"name": "mlplat-models-s3"}}]}}
    plain = {"name": "executor", "image": "apache/spark:4.0.0"}
    pod_specs = [
        {"containers": [secret_env]},
        {"containers": [plain], "initContainers": [secret_env_from]},
        {"containers": [plain], "volumes": [volume]},
        {"containers": [plain], "volumes": [projected]},
    ]
    for spec in pod_specs:
        assert admission("pods", {"spec": {"serviceAccountName": "spark", **spec}}, spark), spec
        template = {"template": {"spec": spec}}
        for part in ("server", "executor"):
            connect = {"spec": {"sparkVersion": "4.0.0", part: template}}
            assert admission("sparkconnects", connect, notebook), (part, spec)
        for component in (spec, {"model": {"modelFormat": {"name": "x"}}, **spec}):
            isvc = {"spec": {"predictor": component}}
            assert admission("inferenceservices", isvc, notebook), component
        transformer = {"spec": {"predictor": {"containers": [plain]}, "transformer": spec}}
        assert admission("inferenceservices", transformer, notebook), spec
    framework = {"sklearn": {"storageUri": "s3://m", "env": [{"name": "K", "valueFrom": key}]}}
    assert admission("inferenceservices", {"spec": {"predictor": framework}}, notebook)
    worker = {"containers": [plain], "workerSpec": {"containers": [secret_env]}}
    assert admission("inferenceservices", {"spec": {"predictor": worker}}, notebook)
    conf = {"spark.kubernetes.executor.secrets.mlplat-models-s3": "/tmp/s3"}
    assert admission("sparkconnects", {"spec": {"sparkVersion": "4", "sparkConf": conf}}, notebook)
    conf = {"spark.kubernetes.driver.secretKeyRef.KEY": "mlplat-models-s3:AWS_SECRET_ACCESS_KEY"}
    assert admission("sparkconnects", {"spec": {"sparkVersion": "4", "sparkConf": conf}}, notebook)
    # config maps and the service account token's projected volume stay usable
    fine = {
        "serviceAccountName": "spark",
        "containers": [{**plain, "envFrom": [{"configMapRef": {"name": "c"}}]}],
        "volumes": [
            {"name": "conf", "configMap": {"name": "spark-conf"}},
            {"name": "token", "projected": {"sources": [{"serviceAccountToken": {"path": "t"}}]}},
        ],
    }
    assert admission("pods", {"spec": fine}, spark) == []


# -- Jobs: the tuning pods the Job controller starts for a user ---------------------------------
def tuning_job(**pod) -> dict:
    """The Job ``parallel="kubernetes"`` builds (with tracking auth), its pod spec updated."""
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.tuning import kubernetes as kube

    config = MLPlat(env={"MLP_NAMESPACE": "mlplat-ada", "MLP_USER": "ada"})
    _, job = kube.manifests(
        config, name="tune-x", study_name="x", payload=b"f", workers=2,
        env={"MLP_TUNING_TRIALS": "4"}, tracking_credential=True,
    )  # fmt: skip
    job["spec"]["template"]["spec"].update(pod)
    return job


def test_the_tuning_job_is_admitted_and_reads_exactly_its_two_secrets():
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.tracking.auth import CREDENTIAL_SECRET

    job = tuning_job()
    (container,) = job["spec"]["template"]["spec"]["containers"]
    refs = {e["valueFrom"]["secretKeyRef"]["name"] for e in container["env"] if "valueFrom" in e}
    assert refs == {MLPlat(env={}).tuning_storage_secret, CREDENTIAL_SECRET}
    assert admission("jobs", job, USER_SA + "mlplat-notebook") == []
    # a CronJob of the same pods would pass too (no user role grants CronJobs)
    cron = {"kind": "CronJob", "spec": {"schedule": "@daily", "jobTemplate": {"spec": job["spec"]}}}
    assert admission("cronjobs", cron, USER_SA + "mlplat-notebook") == []
    # controllers outside the namespace are not this policy's
    assert admission("jobs", tuning_job(serviceAccountName="mlplat-models"), "admin") is None


def test_a_users_job_cannot_borrow_an_identity_a_secret_or_the_node():
    notebook = USER_SA + "mlplat-notebook"
    steal = {"secretKeyRef": {"name": "mlplat-models-s3", "key": "AWS_SECRET_ACCESS_KEY"}}
    thief = {"name": "t", "image": "x", "env": [{"name": "K", "valueFrom": steal}]}
    env_from = {"name": "t", "image": "x", "envFrom": [{"secretRef": {"name": "mlplat-models-s3"}}]}
    secret_volume = {"name": "v", "secret": {"secretName": "mlplat-models-s3"}}
    projected = {"name": "v", "projected": {"sources": [{"secret": {"name": "mlplat-models-s3"}}]}}
    host = {"name": "v", "hostPath": {"path": "/var/lib/kubelet/pods"}}
    csi = {"name": "v", "csi": {"driver": "x", "nodePublishSecretRef": {"name": "s"}}}
    privileged = {"name": "p", "image": "x", "securityContext": {"privileged": True}}
    added = {"capabilities": {"add": ["SYS_ADMIN"]}}
    capable = {"name": "p", "image": "x", "securityContext": added}
    denied = {
        "runs as the serving identity": tuning_job(serviceAccountName="mlplat-models"),
        "deprecated alias": tuning_job(serviceAccount="mlplat-models"),
        "runs as the notebook": tuning_job(serviceAccountName="mlplat-notebook"),
        "env from another Secret": tuning_job(containers=[thief]),
        "init container": tuning_job(initContainers=[thief]),
        "envFrom a Secret": tuning_job(containers=[env_from]),
        "secret volume": tuning_job(volumes=[secret_volume]),
        "projected secret": tuning_job(volumes=[projected]),
        "hostPath": tuning_job(volumes=[host]),
        "CSI with a secret": tuning_job(volumes=[csi]),
        "privileged": tuning_job(containers=[privileged]),
        "added capability": tuning_job(containers=[capable]),
        "host PID": tuning_job(hostPID=True),
        "host network": tuning_job(hostNetwork=True),
    }
    for why, job in denied.items():
        assert admission("jobs", job, notebook), why
    cron = {"kind": "CronJob", "spec": {"jobTemplate": {"spec": denied["hostPath"]["spec"]}}}
    assert admission("cronjobs", cron, notebook)
    # what a Job may use: config maps, scratch space, the downward API, projected config maps
    fine = [
        {"name": "scratch", "emptyDir": {}},
        {"name": "info", "downwardAPI": {"items": []}},
        {"name": "both", "projected": {"sources": [{"configMap": {"name": "c"}}]}},
        {"name": "objective", "configMap": {"name": "tune-x"}},
    ]
    assert admission("jobs", tuning_job(volumes=fine, serviceAccountName="default"), notebook) == []
