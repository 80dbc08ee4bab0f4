"""A plain ``pip install`` of the built wheel (no node) enables both halves of the extension."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.integration


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


def test_pip_install_into_a_fresh_venv_enables_the_extensions(wheel, tmp_path):
    venv = tmp_path / "venv"
    uv = shutil.which("uv")
    run(uv, "venv", "--quiet", "--python", "3.11", venv)
    # the locked versions, then the wheel itself: a plain install, no node involved
    requirements = export_requirements(tmp_path / "requirements.txt")
    env = {**os.environ, "VIRTUAL_ENV": str(venv), "PATH": f"{venv}/bin:{os.environ['PATH']}"}
    run(uv, "pip", "install", "--quiet", "-r", requirements, wheel, env=env)
    jupyter_env = {**env, "JUPYTER_CONFIG_DIR": str(tmp_path / "cfg")}
    server = run(venv / "bin" / "jupyter", "server", "extension", "list", env=jupyter_env)
    assert "jupyter_mlplat enabled" in server
    assert "jupyter_mlplat 0.1.0 OK" in server
    lab = run(venv / "bin" / "jupyter", "labextension", "list", env=jupyter_env)
    assert "jupyter-mlplat v0.1.0 enabled OK" in lab
    ipython = run(
        venv / "bin" / "python", "-c", "import jupyter_mlplat.kernel, jupyter_mlplat.server.app"
    )
    assert ipython == ""
