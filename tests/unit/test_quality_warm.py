"""The kernel warms great_expectations only for notebooks that run checks, after a cell."""

from __future__ import annotations

import json

from jupyter_mlplat.kernel import _warm_quality_checks
from jupyter_mlplat.quality.warm import notebook_uses_checks


def notebook(path, source):
    path.write_text(json.dumps({"cells": [{"cell_type": "code", "source": source}]}))
    return str(path)


def test_only_notebooks_that_use_checks_are_warmed(tmp_path):
    assert notebook_uses_checks(notebook(tmp_path / "a.ipynb", "%%mlp check df\\nid: unique"))
    assert notebook_uses_checks(
        notebook(tmp_path / "b.ipynb", "from jupyter_mlplat import quality")
    )
    assert not notebook_uses_checks(notebook(tmp_path / "c.ipynb", "import pandas"))
    assert not notebook_uses_checks(str(tmp_path / "missing.ipynb"))
    assert not notebook_uses_checks("")


class Events:
    def __init__(self):
        self.callbacks = []

    def register(self, event, callback):
        self.callbacks.append(callback)

    def unregister(self, event, callback):
        self.callbacks.remove(callback)


class Shell:
    def __init__(self):
        self.events = Events()


def test_the_hook_runs_once_after_the_first_cell(tmp_path, monkeypatch):
    started = []
    monkeypatch.setattr("jupyter_mlplat.quality.warm.warm_in_background", started.append)
    shell = Shell()
    hook = _warm_quality_checks(shell, "/nb.ipynb")
    shell.events.register("post_run_cell", hook)
    hook(None)
    assert started == ["/nb.ipynb"]
    assert shell.events.callbacks == []
