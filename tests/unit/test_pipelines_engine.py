"""Pure logic of the pipelines engine: settings of the embedded Airflow, import errors, log
rendering, ownership, table assets, the catalog's table-change notices, the cluster manifests."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from jupyter_mlplat.catalog.index import CatalogIndex
from jupyter_mlplat.catalog.service import CatalogService
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, NotFound
from jupyter_mlplat.pipelines import cluster
from jupyter_mlplat.pipelines.airflow import EmbeddedAirflow, has_dag_files
from jupyter_mlplat.pipelines.assets import parse_table, table_uri
from jupyter_mlplat.pipelines.service import PipelinesService, _error_line, _log_lines
from tests.support.catalog_file import FileCatalog


def test_embedded_airflow_is_sized_for_one_user(tmp_path: Path) -> None:
    airflow = EmbeddedAirflow(tmp_path / "airflow", tmp_path / "dags", 8123, {"MLP_USER": "ada"})
    env = airflow.environment()
    assert env["AIRFLOW__CORE__EXECUTOR"] == "LocalExecutor"
    assert env["AIRFLOW__CORE__PARALLELISM"] == "2"
    assert env["AIRFLOW__API__WORKERS"] == "1"
    assert env["AIRFLOW__DAG_PROCESSOR__PARSING_PROCESSES"] == "1"
    assert env["AIRFLOW__API__HOST"] == "127.0.0.1"
    assert env["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"].startswith("sqlite:///")
    assert env["AIRFLOW__CORE__DAGS_FOLDER"] == str(tmp_path / "dags")
    assert env["MLP_USER"] == "ada"
    # the keys every process shares are stable across restarts and private
    assert (
        airflow.environment()["AIRFLOW__API_AUTH__JWT_SECRET"]
        == env["AIRFLOW__API_AUTH__JWT_SECRET"]
    )
    assert (tmp_path / "airflow" / "secrets.json").stat().st_mode & 0o077 == 0
    proxied = EmbeddedAirflow(
        tmp_path / "airflow", tmp_path / "dags", 8123, ui_base_url="http://lab:1/mlplat/airflow/"
    ).environment()
    assert proxied["AIRFLOW__API__BASE_URL"] == "http://lab:1/mlplat/airflow"
    # tasks reach the execution API under the base URL's path (Airflow mounts it there)
    assert proxied["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] == (
        "http://127.0.0.1:8123/mlplat/airflow/execution/"
    )
    names = [s.name for s in airflow.build_services()]
    assert names == ["airflow-api", "airflow-scheduler", "airflow-dag-processor"]


def test_dag_files_start_airflow(tmp_path: Path) -> None:
    assert not has_dag_files(tmp_path / "missing")
    (tmp_path / "__init__.py").write_text("")
    (tmp_path / "config.yaml").write_text("")
    assert not has_dag_files(tmp_path)
    (tmp_path / "train.py").write_text("")
    assert has_dag_files(tmp_path)


def test_import_error_points_at_the_dag_file() -> None:
    trace = (
        "Traceback (most recent call last):\n"
        '  File "/venv/airflow/dagbag.py", line 300, in parse\n'
        '  File "/p/pipelines/bad.py", line 5, in <module>\n'
        '  File "/p/pipelines/helper.py", line 9, in <module>\n'
        "ImportError: no module named feature_store\n"
    )
    assert _error_line(trace, "/p/pipelines/bad.py") == 5
    assert _error_line(trace, "bad.py") == 5
    syntax = '  File "/p/pipelines/x.py", line 3\n    def (\n        ^\nSyntaxError: invalid syntax'
    assert _error_line(syntax, "other.py") == 3


def test_structured_log_lines_keep_the_traceback() -> None:
    entry = {
        "timestamp": "2026-11-30T04:00:01.123Z",
        "level": "error",
        "event": "Task failed with exception",
        "error_detail": [
            {
                "exc_type": "ValueError",
                "exc_value": "boom",
                "frames": [{"filename": "/p/broken.py", "lineno": 7, "name": "explode"}],
            }
        ],
    }
    assert _log_lines(entry) == [
        "2026-11-30 04:00:01 [ERROR] Task failed with exception",
        '  File "/p/broken.py", line 7, in explode',
        "ValueError: boom",
    ]
    assert _log_lines({"event": "::group::Pre Execute"}) == []
    assert _log_lines("plain\ntext") == ["plain", "text"]


def test_owner_filter_only_on_a_shared_airflow() -> None:
    dag = {"dag_id": "d", "tags": [{"name": "owner:bob"}], "owners": ["bob"]}
    mine = {"dag_id": "m", "tags": [{"name": "owner:ada"}], "owners": ["airflow"]}
    owned = {"dag_id": "o", "tags": [], "owners": ["ada"]}
    shared = PipelinesService(MLPlat(env={"MLP_USER": "ada", "MLP_AIRFLOW_SHARED": "true"}), None)
    assert [shared.owns(d) for d in (dag, mine, owned)] == [False, True, True]
    single = PipelinesService(MLPlat(env={"MLP_USER": "ada"}), None)
    assert single.owns(dag)


def test_no_airflow_configured_is_one_line() -> None:
    from jupyter_mlplat.errors import Unavailable

    service = PipelinesService(MLPlat(env={}), None)
    with pytest.raises(Unavailable, match="MLP_AIRFLOW_URL"):
        service.pipelines()
    with pytest.raises(InvalidInput, match="invalid pipeline name"):
        PipelinesService(MLPlat(env={}), None).runs("../etc")


def test_table_assets() -> None:
    assert parse_table("table:demo.iris") == ("demo", "iris")
    assert table_uri("Demo", "Iris") == "mlplat://catalog/demo/iris"
    with pytest.raises(InvalidInput, match="not a table name"):
        parse_table("iris")


def test_catalog_tells_observers_when_a_table_changes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    catalog = tmp_path / "catalog.json"
    catalog.write_text(json.dumps({"demo": {"iris": {"rows": 150}}}))
    monkeypatch.setenv("MLP_TEST_CATALOG_FILE", str(catalog))
    config = MLPlat(env={})
    service = CatalogService(config, FileCatalog(config), CatalogIndex(":memory:"))
    seen: list[tuple[str, str]] = []
    service.table_observers.append(lambda db, t: seen.append((db, t)))

    def failing(db: str, t: str) -> None:
        raise RuntimeError("an observer's failure stays its own")

    service.table_observers.append(failing)
    service.refresh()  # the first indexing is no change
    service.describe("demo", "iris")
    assert seen == []
    catalog.write_text(json.dumps({"demo": {"iris": {"rows": 300}, "wine": {"rows": 10}}}))
    service.describe("demo", "iris")  # its row count changed
    assert seen == [("demo", "iris")]
    service.refresh()  # a new table appeared
    assert seen == [("demo", "iris"), ("demo", "wine")]
    with pytest.raises(NotFound):
        service.describe("demo", "nope")


def test_cluster_manifests() -> None:
    cm = cluster.pipeline_configmap("mlplat-ada", "ada", "train.py", "x = 1\n")
    assert cm["metadata"]["name"] == "pipeline-train"
    assert cm["metadata"]["annotations"][cluster.FOLDER_ANNOTATION] == "mlplat-ada"
    assert cm["metadata"]["labels"][cluster.PIPELINE_LABEL] == "true"
    with pytest.raises(InvalidInput):
        cluster.pipeline_configmap("mlplat-ada", "ada", "../x.py", "")
    env = cluster.platform_env_configmap(
        "mlplat-ada",
        MLPlat(env={"MLP_USER": "ada", "MLP_TRACKING_URI": "http://m", "MLP_STATE_DIR": "/s"}),
    )["data"]
    assert env["MLP_TRACKING_URI"] == "http://m" and "MLP_STATE_DIR" not in env
    assert cluster.folder_namespace("/d/mlplat-ada/train.py", "/d") == "mlplat-ada"
    assert cluster.folder_namespace("/d/team/train.py", "/d") is None
    assert cluster.folder_namespace("/elsewhere/mlplat-ada/x.py", "/d") is None


def test_cluster_policy_sends_published_tasks_to_their_namespace(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    sdk = pytest.importorskip("airflow.sdk")
    monkeypatch.setattr(cluster, "_pod", dict)  # the V1Pod conversion is the provider's
    with sdk.DAG("train", schedule=None, tags=["owner:bob", "ml"]) as dag:
        sdk.task(lambda: 1, task_id="fit")()
    dag.fileloc = "/opt/airflow/dags/mlplat-ada/train.py"
    cluster.dag_policy(dag, "/opt/airflow/dags")
    assert set(dag.tags) == {"owner:ada", "ml"}  # the folder says who owns it, not the file
    (task,) = dag.tasks
    assert task.owner == "ada"
    pod = task.executor_config["pod_override"]
    assert pod["metadata"]["namespace"] == "mlplat-ada"
    assert pod["spec"]["serviceAccountName"] == "mlplat-notebook"
    assert pod["spec"]["volumes"] == [{"name": "pipeline", "configMap": {"name": "pipeline-train"}}]

    with sdk.DAG("team", schedule=None) as team:
        sdk.task(lambda: 1, task_id="x")()
    team.fileloc = "/opt/airflow/dags/team.py"
    cluster.dag_policy(team, "/opt/airflow/dags")
    assert not team.tasks[0].executor_config
