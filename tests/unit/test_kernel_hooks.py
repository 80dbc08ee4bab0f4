"""Pure logic of the kernel extension: post-import hooks, re-run handling, run tags."""

from __future__ import annotations

import subprocess
import sys

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.kernel.import_hooks import when_imported
from jupyter_mlplat.tracking.context import run_tags
from jupyter_mlplat.tracking.session import _NESTED, _START_RUN


def test_callback_runs_after_first_import(tmp_path, monkeypatch):
    (tmp_path / "mlplat_probe_mod.py").write_text("VALUE = 42\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    seen = []
    finder = when_imported(["mlplat_probe_mod"], lambda m: seen.append(m.VALUE))
    try:
        import mlplat_probe_mod  # noqa: F401

        assert seen == [42]
        assert sys.modules["mlplat_probe_mod"].__loader__.__class__.__name__ != "_Loader"
    finally:
        if finder in sys.meta_path:
            sys.meta_path.remove(finder)
        sys.modules.pop("mlplat_probe_mod", None)


def test_callback_runs_at_once_for_an_imported_module():
    seen = []
    assert when_imported(["json"], lambda m: seen.append(m.__name__)) is None
    assert seen == ["json"]


def test_start_run_detection():
    assert _START_RUN.search("run = mlflow.start_run()")
    assert _START_RUN.search("with mlflow.start_run (run_name='x'):")
    assert not _START_RUN.search("mlflow.log_metric('start_run', 1)")
    assert _NESTED.search("mlflow.start_run(nested=True)")


def test_run_tags_carry_user_notebook_and_commit(tmp_path):
    git = ["git", "-C", str(tmp_path), "-c", "user.email=t@e.org", "-c", "user.name=t"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], check=True)
    origin = "https://git.example/team/repo.git"
    subprocess.run([*git, "remote", "add", "origin", origin], check=True)
    commit = subprocess.run(
        [*git, "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()
    notebook = tmp_path / "nb.ipynb"
    tags = run_tags(MLPlat(env={"MLP_USER": "ada", "MLP_NOTEBOOK_PATH": str(notebook)}))
    assert tags["mlflow.user"] == "ada"
    assert tags["mlplat.notebook.path"] == str(notebook)
    assert tags["mlflow.source.git.commit"] == commit
    assert tags["mlflow.source.git.branch"] == "main"
    assert tags["mlflow.source.git.repoURL"] == origin
