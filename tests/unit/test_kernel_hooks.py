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


def test_a_warm_up_runs_after_the_reply_inside_the_kernel_loop_and_at_once_outside():
    import asyncio

    from jupyter_mlplat.kernel import _after_reply

    ran: list[str] = []
    _after_reply(lambda: ran.append("no loop"))
    assert ran == ["no loop"]

    async def cell() -> None:
        _after_reply(lambda: ran.append("queued"))
        ran.append("reply sent")  # what the kernel does before it next yields to its loop
        await asyncio.sleep(0)

    asyncio.run(cell())
    assert ran == ["no loop", "reply sent", "queued"]


def test_lineage_capture_is_made_by_the_first_session_only():
    from jupyter_mlplat.kernel import _LazyLineage

    lineage = _LazyLineage(MLPlat(env={}))
    assert lineage.flush(0.01) is True and lineage._capture is None  # no Spark: nothing made
    assert lineage.hook(object()) is not None
    assert lineage._capture is not None and lineage.flush(1.0) is True


#: Modules kernel start must not import: the heavy libraries, and the platform's own modules
#: that are only needed once Spark, lineage or the server's API are used.
NOT_AT_START = [
    "mlflow", "pandas", "pyspark", "optuna", "great_expectations", "sklearn", "kubernetes",
    "urllib.request", "jupyter_mlplat.lineage.capture", "jupyter_mlplat.kernel.spark_progress",
    "jupyter_mlplat.kernel.completion", "jupyter_mlplat.quality", "jupyter_mlplat.infra.processes",
]  # fmt: skip


def test_loading_the_extension_imports_nothing_heavy(tmp_path):
    script = (
        "import sys, ipykernel.ipkernel\n"
        "from IPython.core.interactiveshell import InteractiveShell\n"
        "before = set(sys.modules)\n"
        "shell = InteractiveShell.instance()\n"
        "import jupyter_mlplat\n"
        "jupyter_mlplat.load_ipython_extension(shell)\n"
        "assert shell.find_magic('mlp') is not None\n"
        f"print(sorted(n for n in {NOT_AT_START!r} if n in sys.modules and n not in before))\n"
    )
    env = {
        "PATH": "/usr/bin:/bin",
        "PYTHONPATH": ":".join(sys.path),
        "MLP_TRACKING_URI": "http://127.0.0.1:9",
        "MLP_SPARK_MODE": "local",
        "MLP_NOTEBOOK_PATH": str(tmp_path / "nb.ipynb"),
        "HOME": str(tmp_path),
    }
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=env, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"
