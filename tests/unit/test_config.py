"""The configuration object: precedence, parsing, and what reaches kernels."""

from __future__ import annotations

import pytest
from traitlets.config import Config

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.server.provisioner import is_ipython_kernel, kernel_environment


def test_environment_feeds_defaults():
    config = MLPlat(
        env={
            "MLP_TRACKING_URI": "http://mlflow:5000",
            "MLP_AUTOLOG": "false",
            "MLP_SPARK_MODE": "kubernetes",
            "MLP_AUTOLOG_TRIGGERS": "mlflow, torch",
            "JUPYTERHUB_USER": "grace",
        }
    )
    assert config.tracking_uri == "http://mlflow:5000"
    assert config.autolog is False
    assert config.spark_mode == "kubernetes"
    assert config.autolog_triggers == ["mlflow", "torch"]
    assert config.resolved_user == "grace"


def test_config_files_win_over_environment():
    c = Config()
    c.MLPlat.tracking_uri = "http://from-config:5000"
    config = MLPlat(config=c, env={"MLP_TRACKING_URI": "http://from-env:5000"})
    assert config.tracking_uri == "http://from-config:5000"


def test_first_named_variable_wins():
    config = MLPlat(env={"MLP_TRACKING_URI": "http://a", "MLFLOW_TRACKING_URI": "http://b"})
    assert config.tracking_uri == "http://a"
    assert MLPlat(env={"MLFLOW_TRACKING_URI": "http://b"}).tracking_uri == "http://b"


def test_bad_values_name_the_variable():
    with pytest.raises(ValueError, match="MLP_SPARK_MODE='yarn'"):
        MLPlat(env={"MLP_SPARK_MODE": "yarn"})
    with pytest.raises(ValueError, match="MLP_AUTOLOG"):
        MLPlat(env={"MLP_AUTOLOG": "perhaps"})


def test_round_trip_through_environment():
    original = MLPlat(env={"MLP_USER": "ada", "MLP_AUTOLOG": "false", "MLP_NAMESPACE": "team-a"})
    copy = MLPlat(env=original.to_environment())
    for name in original.trait_names(config=True):
        assert getattr(copy, name) == getattr(original, name), name


def test_experiment_template():
    config = MLPlat(env={"MLP_USER": "ada", "MLP_EXPERIMENT": "/Users/{user}/{notebook}"})
    assert config.experiment_for("/home/ada/work/churn.ipynb") == "/Users/ada/churn"
    assert config.experiment_for("") == "/Users/ada/default"


def test_kernel_environment_drops_secrets_and_server_state():
    config = MLPlat(env={"MLP_TRACKING_URI": "http://127.0.0.1:5000", "MLP_USER": "ada"})
    base = {
        "PATH": "/usr/bin",
        "AWS_SECRET_ACCESS_KEY": "x",
        "AWS_ACCESS_KEY_ID": "y",
        "GOOGLE_APPLICATION_CREDENTIALS": "/k.json",
        "JUPYTERHUB_API_TOKEN": "t",
        "DB_PASSWORD": "p",
        "MLP_STATE_DIR": "/srv/state",
        "JPY_SESSION_NAME": "/home/ada/nb.ipynb",
        "SPARK_CONNECT_MODE_ENABLED": "1",  # set in the server once its catalog used Connect
    }
    env = kernel_environment(config, base)
    assert "SPARK_CONNECT_MODE_ENABLED" not in env
    for secret in ("AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "GOOGLE_APPLICATION_CREDENTIALS"):
        assert secret not in env
    assert "JUPYTERHUB_API_TOKEN" not in env and "DB_PASSWORD" not in env
    assert "MLP_STATE_DIR" not in env
    assert env["PATH"] == "/usr/bin"
    assert env["MLFLOW_TRACKING_URI"] == "http://127.0.0.1:5000"
    assert env["MLFLOW_EXPERIMENT_NAME"] == "/Users/ada"
    assert env["MLP_NOTEBOOK_PATH"] == "/home/ada/nb.ipynb"
    assert env["MLFLOW_ENABLE_ASYNC_LOGGING"] == "true"


def test_kernels_get_spark_remote_of_the_platforms_spark():
    """A user's own ``SparkSession.builder.getOrCreate()`` attaches to the platform's Spark."""
    local = MLPlat(env={"MLP_SPARK_MODE": "local", "MLP_SPARK_REMOTE": "sc://127.0.0.1:15002"})
    assert kernel_environment(local, {})["SPARK_REMOTE"] == "sc://127.0.0.1:15002"
    k8s = MLPlat(env={"MLP_SPARK_MODE": "kubernetes", "MLP_USER": "ada", "MLP_NAMESPACE": "team"})
    remote = kernel_environment(k8s, {})["SPARK_REMOTE"]
    assert remote.startswith("sc://") and ".team.svc.cluster.local:15002" in remote
    livy = MLPlat(env={"MLP_SPARK_MODE": "livy", "SPARK_REMOTE": "http://livy:8998"})
    assert "SPARK_REMOTE" not in kernel_environment(livy, {"SPARK_REMOTE": "http://livy:8998"})
    assert "SPARK_REMOTE" not in kernel_environment(MLPlat(env={"MLP_SPARK_MODE": "none"}), {})


def test_mlflow_never_records_a_kernel_variable_as_an_inference_credential(tmp_path, monkeypatch):
    """While ``log_model`` validates its input example, MLflow tracks the variables read and
    records (and warns about) those matching its credential allowlist; any HTTP call then reads
    every variable (the proxy lookup), so no kernel variable may match."""
    import urllib.request

    from mlflow.utils.model_utils import RECORD_ENV_VAR_ALLOWLIST, env_var_tracker

    from jupyter_mlplat.config import API_TOKEN_FILE_VARIABLE
    from jupyter_mlplat.server.kernel_api import KernelApi

    config = MLPlat(env={"MLP_TRACKING_URI": "http://127.0.0.1:5000", "MLP_USER": "ada"})
    env = kernel_environment(config, {}) | KernelApi.create(tmp_path).kernel_environment()
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    with env_var_tracker() as tracked:
        urllib.request.getproxies()
    assert API_TOKEN_FILE_VARIABLE in tracked  # read, like every variable
    flagged = [n for n in tracked & env.keys() if any(p in n for p in RECORD_ENV_VAR_ALLOWLIST)]
    assert flagged == []


def test_no_tracking_server_means_no_mlflow_target():
    env = kernel_environment(MLPlat(env={}), {"PATH": "/bin"})
    assert "MLFLOW_TRACKING_URI" not in env
    assert env["MLFLOW_DISABLE_TELEMETRY"] == "true"


def test_only_ipython_kernels_get_the_extension():
    assert is_ipython_kernel(["python", "-m", "ipykernel_launcher", "-f", "{connection_file}"])
    assert not is_ipython_kernel(["R", "--slave", "-e", "IRkernel::main()"])


def test_readme_documents_every_setting():
    from pathlib import Path

    readme = (Path(__file__).parents[2] / "README.md").read_text()
    for name, trait in MLPlat(env={}).traits(env=bool).items():
        assert f"`{trait.metadata['env'][0]}` | `{name}`" in readme, name


def test_constructor_arguments_win_over_the_environment():
    config = MLPlat(env={"MLP_PIPELINES_DIR": "/from/env", "MLP_USER": "ada"}, pipelines_dir="p")
    assert config.pipelines_dir == "p" and config.user == "ada"
