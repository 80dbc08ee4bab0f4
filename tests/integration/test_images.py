"""The images' install steps, without Docker: each image's ``install.sh`` runs into a fresh venv
with the same lock files the Dockerfile uses (uv's cache keeps this to minutes)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT
from tests.integration.test_wheel import export_requirements, run, uv_cache_pruned, wheel

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("uv_cache_pruned")]
__all__ = ["uv_cache_pruned", "wheel"]  # the fixtures, shared with test_wheel.py

IMAGES = ROOT / "images"
SERVING_LOCK = ROOT / "jupyter_mlplat" / "deploy" / "serving" / "requirements.txt"
MODEL_LIBRARIES = ["pandas", "scikit-learn", "mlflow", "numpy"]


def install_env(tmp_path: Path) -> dict[str, str]:
    """A clean environment for an install script (uv on PATH, no outer venv)."""
    env = {k: v for k, v in os.environ.items() if k != "VIRTUAL_ENV"}
    uv = shutil.which("uv")
    assert uv, "uv is installed by scripts/setup.sh"
    env["PATH"] = f"{Path(uv).parent}:{env['PATH']}"
    env["JUPYTER_CONFIG_DIR"] = str(tmp_path / "jupyter-config")
    return env


def versions(python: Path, packages: list[str]) -> dict[str, str]:
    code = (
        "import importlib.metadata as m, json, sys; "
        "print(json.dumps({p: m.version(p) for p in sys.argv[1:]}))"
    )
    return dict(json.loads(run(python, "-c", code, *packages)))


@pytest.fixture(scope="module")
def notebook_env(tmp_path_factory, wheel) -> Path:
    base = tmp_path_factory.mktemp("notebook-image")
    constraints = export_requirements(base / "requirements.txt", "--all-extras")  # as Dockerfile
    env_dir = base / "env"
    out = run(
        "bash", IMAGES / "notebook" / "install.sh", env_dir, wheel, constraints,
        env=install_env(base),
    )  # fmt: skip
    assert "notebook environment ready" in out
    return env_dir


def test_notebook_image_enables_both_extensions_and_loads_the_magics(notebook_env, tmp_path):
    env = install_env(tmp_path)
    listing = run(notebook_env / "bin" / "jupyter", "server", "extension", "list", env=env)
    assert "jupyter_mlplat 0.1.0 OK" in listing
    magics = run(
        notebook_env / "bin" / "python",
        "-c",
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "shell = InteractiveShell.instance()\n"
        "shell.extension_manager.load_extension('jupyter_mlplat')\n"
        "print(shell.find_magic('mlp') is not None)",
        env=env,
    )
    assert magics.strip().endswith("True")
    assert run(notebook_env / "bin" / "jupyterhub-singleuser", "--version", env=env).strip()
    # the livy extra (Livy mode) is in the image; the hub's KubeSpawner is not
    site = next((notebook_env / "lib").glob("python3.*/site-packages"))
    assert (site / "sparkmagic").is_dir() and not (site / "kubespawner").exists()
    # bytecode compiled at install: the package's modules have their .pyc
    assert list((site / "jupyter_mlplat" / "__pycache__").glob("config.*.pyc"))


def test_serving_image_matches_the_notebooks_model_libraries(notebook_env, tmp_path):
    env_dir = tmp_path / "serving"
    out = run(
        "bash", IMAGES / "serving" / "install.sh", env_dir, SERVING_LOCK, env=install_env(tmp_path)
    )
    assert "serving environment ready" in out
    assert run(env_dir / "bin" / "mlserver", "--version").strip()
    run(env_dir / "bin" / "python", "-c", "import mlserver_mlflow")
    serving = versions(env_dir / "bin" / "python", MODEL_LIBRARIES)
    assert serving == versions(notebook_env / "bin" / "python", MODEL_LIBRARIES)


def test_hub_image_has_jupyterhub_kubespawner_and_the_spawner_config(wheel, tmp_path):
    constraints = export_requirements(tmp_path / "requirements.txt", "--extra", "hub")
    proxy = tmp_path / "proxy"
    proxy.mkdir()
    for name in ("package.json", "package-lock.json"):
        shutil.copy(ROOT / "spawner_config" / "local" / name, proxy / name)
    env_dir = tmp_path / "hub"
    env = install_env(tmp_path)
    out = run("bash", IMAGES / "hub" / "install.sh", env_dir, wheel, constraints, proxy, env=env)
    assert "hub environment ready" in out
    assert run(env_dir / "bin" / "jupyterhub", "--version").strip().startswith("6.")
    assert (proxy / "node_modules" / ".bin" / "configurable-http-proxy").exists()
    # the hub's environment is small: no notebook stack in it
    site = next((env_dir / "lib").glob("python3.*/site-packages"))
    assert not (site / "pyspark").exists() and not (site / "mlflow").exists()
    # the plain config file loads in it, with the image's layout
    check = (
        "import sys; sys.path.insert(0, sys.argv[1]); "
        "from traitlets.config import Config; c = Config(); "
        "exec(open(sys.argv[1] + '/jupyterhub_config.py').read(), "
        "{'get_config': lambda: c, '__file__': sys.argv[1] + '/jupyterhub_config.py'}); "
        "print(c.KubeSpawner.service_account)"
    )
    dummy = tmp_path / "kubeconfig"
    dummy.write_text("apiVersion: v1\nkind: Config\nclusters: []\nusers: []\ncontexts: []\n")
    loaded = run(
        env_dir / "bin" / "python", "-c", check, ROOT / "spawner_config",
        env={**env, "KUBECONFIG": str(dummy), "POD_NAMESPACE": "jhub"},  # z2jh sets it
    )  # fmt: skip
    assert loaded.strip() == "mlplat-notebook"
