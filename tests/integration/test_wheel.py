"""A plain ``pip install`` of the built wheel (no node) enables both halves of the extension."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = [pytest.mark.integration, pytest.mark.usefixtures("uv_cache_pruned")]


@pytest.fixture(scope="module")
def uv_cache_pruned():
    """Afterwards, drop what these installs left unreachable in uv's cache.

    pyspark is published as a source distribution only, and here each ``uv pip install`` that needs
    it builds it again into a new 1.4 GB revision of the cache (the registry's answer is never
    reused): unpruned, every run of the suite left about 3 GB behind until the disk filled.
    """
    yield
    uv = shutil.which("uv")
    if uv:
        subprocess.run([uv, "cache", "prune", "--quiet"], check=False, timeout=300)


def run(*args: str | Path, **kwargs) -> str:
    result = subprocess.run(
        [str(a) for a in args], capture_output=True, text=True, timeout=900, check=False, **kwargs
    )
    assert result.returncode == 0, result.stdout + result.stderr
    return re.sub(r"\x1b\[[0-9;]*m", "", result.stdout + result.stderr)  # no colours


def export_requirements(path: Path, *options: str) -> Path:
    """The locked versions of ``uv.lock`` as a requirements file (the project itself left out)."""
    uv = shutil.which("uv")
    assert uv, "uv is installed by scripts/setup.sh"
    run(uv, "export", "--frozen", "--no-dev", "--no-emit-project", *options, "-o", path, cwd=ROOT)
    return path


@pytest.fixture(scope="module")
def wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("dist")
    uv = shutil.which("uv")
    assert uv, "uv is installed by scripts/setup.sh"
    run(uv, "build", "--wheel", "--out-dir", out, ROOT, cwd=ROOT)
    (wheel,) = out.glob("jupyter_mlplat-*.whl")
    return wheel


def test_wheel_carries_the_prebuilt_lab_extension_and_server_config(wheel):
    import zipfile

    names = zipfile.ZipFile(wheel).namelist()
    data = "jupyter_mlplat-0.1.0.data/data"
    assert f"{data}/share/jupyter/labextensions/jupyter-mlplat/package.json" in names
    assert f"{data}/etc/jupyter/jupyter_server_config.d/jupyter_mlplat.json" in names
    assert any(n.endswith("remoteEntry.js") or "remoteEntry" in n for n in names)


#: Run by the fresh venv's Python: a real IPython kernel with the extension (as the provisioner
#: starts it), in Livy mode: ``%mlp`` works; ``%%spark`` names the missing extra in one line.
KERNEL = r"""
import sys
from jupyter_client.manager import start_new_kernel

km, kc = start_new_kernel(
    kernel_name="python3",
    extra_arguments=["--InteractiveShellApp.extra_extensions=jupyter_mlplat"],
)
try:
    for code in ("%mlp help", "%%spark\n1 + 1"):
        out = []
        kc.execute_interactive(
            code, timeout=120, output_hook=lambda m: out.append(m["content"].get("text", ""))
        )
        print(f"--- {code.splitlines()[0]}\n{''.join(out)}")
finally:
    kc.stop_channels()
    km.shutdown_kernel(now=True)
"""


def site_packages(venv: Path) -> Path:
    return next((venv / "lib").glob("python3.*/site-packages"))


@pytest.fixture(scope="module")
def fresh_venv(wheel, tmp_path_factory) -> tuple[Path, dict[str, str]]:
    """The wheel and the locked versions of its dependencies, no extras: a plain install."""
    base = tmp_path_factory.mktemp("fresh")
    venv = base / "venv"
    uv = shutil.which("uv")
    assert uv
    run(uv, "venv", "--quiet", "--python", "3.11", venv)
    requirements = export_requirements(base / "requirements.txt")  # no extras
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "PYTHONPATH"}}
    env |= {"VIRTUAL_ENV": str(venv), "PATH": f"{venv}/bin:{env['PATH']}"}
    env |= {"JUPYTER_CONFIG_DIR": str(base / "cfg"), "JUPYTER_RUNTIME_DIR": str(base / "rt")}
    env["IPYTHONDIR"] = str(base / "ipython")
    run(uv, "pip", "install", "--quiet", "-r", requirements, wheel, env=env)
    return venv, env


def test_pip_install_into_a_fresh_venv_enables_the_extensions(fresh_venv):
    venv, env = fresh_venv
    server = run(venv / "bin" / "jupyter", "server", "extension", "list", env=env)
    assert "jupyter_mlplat enabled" in server
    assert "jupyter_mlplat 0.1.0 OK" in server
    lab = run(venv / "bin" / "jupyter", "labextension", "list", env=env)
    assert "jupyter-mlplat v0.1.0 enabled OK" in lab
    ipython = run(
        venv / "bin" / "python", "-c", "import jupyter_mlplat.kernel, jupyter_mlplat.server.app",
        env=env,
    )  # fmt: skip
    assert ipython == ""


def test_without_extras_there_is_no_sparkmagic_notebook_or_jupyterhub(fresh_venv):
    venv, env = fresh_venv
    site = site_packages(venv)
    for package in ("sparkmagic", "notebook", "jupyterhub", "kubespawner", "plotly"):
        assert not (site / package).exists(), f"{package} is installed without its extra"
    assert not (venv / "bin" / "jupyter-notebook").exists()
    missing = run(
        venv / "bin" / "python", "-c",
        "import importlib.util as u; "
        "print([m for m in ('sparkmagic', 'notebook', 'jupyterhub') if u.find_spec(m)])",
        env=env,
    )  # fmt: skip
    assert missing.strip() == "[]"


def test_mlp_loads_in_a_kernel_and_livy_mode_names_its_extra(fresh_venv):
    venv, env = fresh_venv
    kernel_env = env | {"MLP_SPARK_MODE": "livy", "MLP_SPARK_REMOTE": "http://127.0.0.1:9"}
    out = run(venv / "bin" / "python", "-c", KERNEL, env=kernel_env)
    help_text, spark = out.split("--- %%spark")
    assert "%mlp commands:" in help_text and "%%mlp check" in help_text
    assert "Livy mode needs the livy extra: pip install 'jupyter-mlplat[livy]'" in spark


def test_mlplat_hub_names_its_extra(fresh_venv, tmp_path):
    venv, env = fresh_venv
    result = subprocess.run(
        [venv / "bin" / "mlplat", "--state-dir", tmp_path, "hub"],
        capture_output=True, text=True, env=env, timeout=120, check=False,
    )  # fmt: skip
    assert result.returncode == 1
    assert "needs the hub extra: pip install 'jupyter-mlplat[hub]'" in result.stderr


def test_with_the_livy_extra_the_livy_tests_pass(fresh_venv, wheel, tmp_path):
    """Add the ``livy`` extra (and the test tools) to the same venv; run the Livy tests in it."""
    venv, env = fresh_venv
    uv = shutil.which("uv")
    assert uv
    constraints = export_requirements(tmp_path / "all.txt", "--all-extras", "--all-groups")
    livy = f"jupyter-mlplat[livy] @ {wheel.as_uri()}"
    tools = ["pytest", "pytest-timeout", "websocket-client"]
    run(uv, "pip", "install", "--quiet", "-c", constraints, livy, *tools, env=env)
    assert (site_packages(venv) / "sparkmagic").is_dir()
    tests = ["tests/unit/test_spark_livy.py", "tests/integration/test_spark_livy_sparkmagic.py"]
    out = run(venv / "bin" / "python", "-m", "pytest", "-q", "-p", "no:cacheprovider", *tests,
              env=env | {"HOME": str(tmp_path)}, cwd=ROOT)  # fmt: skip
    assert re.search(r"\b\d+ passed\b", out) and "failed" not in out, out
