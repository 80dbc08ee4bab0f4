"""How a pipeline file reaches Airflow (``MLP_PIPELINES_PUBLISH``): nothing to do for the local
Airflow, one-line refusals of what is not a pipeline file, and ``%mlp pipeline publish`` /
the publish after a written pipeline as the kernel shows them. On Kubernetes:
tests/integration/test_pipelines_cluster.py."""

from __future__ import annotations

from pathlib import Path
from types import SimpleNamespace

import pytest
from IPython.core.error import UsageError

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.kernel.commands import pipeline as command
from jupyter_mlplat.kernel.magics import MLPMagics
from jupyter_mlplat.kernel.render import Report
from jupyter_mlplat.pipelines import cluster
from jupyter_mlplat.pipelines.project import PipelineFile


def folder_config(folder: Path) -> MLPlat:
    return MLPlat(env={"MLP_USER": "ada", "MLP_PIPELINES_DIR": str(folder)})


def test_the_setting_is_folder_unless_the_spawner_says_kubernetes():
    assert MLPlat(env={}).pipelines_publish == "folder"
    assert MLPlat(env={"MLP_PIPELINES_PUBLISH": "kubernetes"}).pipelines_publish == "kubernetes"
    with pytest.raises(ValueError, match="MLP_PIPELINES_PUBLISH='s3' is not valid"):
        MLPlat(env={"MLP_PIPELINES_PUBLISH": "s3"})


def test_the_local_airflow_needs_nothing_published(tmp_path):
    folder = tmp_path / "pipelines"
    folder.mkdir()
    (folder / "train.py").write_text("")
    done = cluster.publish_file(folder_config(folder), folder / "train.py")
    assert done == {
        "mode": "folder",
        "file": "train.py",
        "dag_ids": [],
        "namespace": "",
        "configmaps": [],
        "folder": str(folder),
        "message": "nothing to publish: the local Airflow reads pipelines/ directly",
    }
    (tmp_path / "elsewhere.py").write_text("")
    away = cluster.publish_file(folder_config(folder), tmp_path / "elsewhere.py")
    assert away["message"] == (
        "nothing published: the local Airflow reads pipelines/ only; move elsewhere.py there"
    )


NOT_A_FILE = r"^no pipeline file .* \(a pipeline is one \.py file\)$"


@pytest.mark.parametrize("mode", ["folder", "kubernetes"])
@pytest.mark.parametrize("name", ["missing.py", "notes.txt", "folder.py", "x" * 300 + ".py"])
def test_what_is_not_a_pipeline_file_is_refused_before_anything_is_tried(tmp_path, mode, name):
    (tmp_path / "notes.txt").write_text("")
    (tmp_path / "folder.py").mkdir()
    config = MLPlat(env={"MLP_PIPELINES_PUBLISH": mode, "MLP_NAMESPACE": "mlplat-ada"})
    with pytest.raises(InvalidInput, match=NOT_A_FILE):
        cluster.publish_file(config, tmp_path / name, client=object())


@pytest.fixture(scope="module")
def shell(ipython_shell, tmp_path_factory):
    folder = tmp_path_factory.mktemp("project") / "pipelines"
    folder.mkdir()
    (folder / "train.py").write_text("")
    ipython_shell.register_magics(MLPMagics(ipython_shell, config=folder_config(folder)))
    yield ipython_shell
    ipython_shell.register_magics(MLPMagics(ipython_shell, config=MLPlat(env={"MLP_USER": "ada"})))


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("pipeline publish", "the following arguments are required: pipeline"),
        ("pipeline publish a b", "unrecognized arguments: b"),
        ("pipeline publish no-such", "invalid pipeline name 'no-such'"),
        ("pipeline publish nothere", r"no pipeline file nothere\.py"),
        ("pipeline publish ./nothere.py", r"no pipeline file nothere\.py"),
    ],
)
def test_publish_refuses_bad_lines_in_one_line(shell, line, message):
    with pytest.raises(UsageError, match=message) as err:
        shell.run_line_magic("mlp", line)
    assert "\n" not in str(err.value)


def test_publish_by_name_says_the_local_airflow_reads_the_folder(shell):
    report = shell.run_line_magic("mlp", "pipeline publish train")
    assert "nothing to publish: the local Airflow reads pipelines/ directly" in repr(report)


def test_a_written_pipeline_is_not_published_for_the_local_airflow(tmp_path):
    """It reads the folder: nothing to add to the report (on Kubernetes, the report of a real
    publish: tests/integration/test_pipelines_cluster.py)."""
    written = PipelineFile("train", tmp_path / "train.py", ("train",))
    report = Report("Pipeline train")
    command.published(report, SimpleNamespace(mlplat=MLPlat(env={})), written)
    assert report.sections == {}
