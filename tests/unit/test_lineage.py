"""Lineage without Spark: plan and SQL parsing, digests, OpenLineage events (posted to a real
local HTTP server), the capture's bookkeeping and the service's answers over recorded runs."""

from __future__ import annotations

import json
from types import SimpleNamespace
from typing import ClassVar

import pytest
from pyspark.sql.connect.proto import base_pb2, commands_pb2, relations_pb2

from jupyter_mlplat.catalog.snapshot import Snapshot, digest
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.models import Deployment, ModelRef, Revision
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.lineage.capture import LineageCapture
from jupyter_mlplat.lineage.openlineage import ActionRun, EventSink, LineageDataset, events
from jupyter_mlplat.lineage.plan import Tables, request_tables, sql_tables
from jupyter_mlplat.lineage.record import dataset_input, recorded
from jupyter_mlplat.lineage.service import LineageService, table_name
from tests.support.openlineage import collector


# -- plans ---------------------------------------------------------------------------------------
def read(name: str) -> relations_pb2.Relation:
    return relations_pb2.Relation(
        read=relations_pb2.Read(named_table=relations_pb2.Read.NamedTable(unparsed_identifier=name))
    )


def request(*, root=None, command=None) -> base_pb2.ExecutePlanRequest:
    plan = base_pb2.Plan(root=root) if root is not None else base_pb2.Plan(command=command)
    return base_pb2.ExecutePlanRequest(operation_id="op-1", plan=plan)


def test_a_dataframe_plan_names_the_tables_it_reads():
    joined = relations_pb2.Relation(
        join=relations_pb2.Join(left=read("demo.iris"), right=read("`Demo`.`Wine`"))
    )
    counted = relations_pb2.Relation(aggregate=relations_pb2.Aggregate(input=joined))
    assert request_tables(request(root=counted)) == Tables(("demo.iris", "demo.wine"), ())


def test_save_as_table_is_an_output_and_its_source_an_input():
    write = commands_pb2.WriteOperation(
        input=read("spark_catalog.demo.iris"),
        table=commands_pb2.WriteOperation.SaveTable(table_name="default.small"),
    )
    tables = request_tables(request(command=commands_pb2.Command(write_operation=write)))
    assert tables == Tables(("demo.iris",), ("default.small",))


def test_sql_in_a_command_and_in_a_relation_is_read():
    sql = relations_pb2.Relation(sql=relations_pb2.SQL(query="SELECT * FROM demo.iris"))
    command = commands_pb2.Command(sql_command=commands_pb2.SqlCommand(input=sql))
    assert request_tables(request(command=command)).inputs == ("demo.iris",)
    limited = relations_pb2.Relation(limit=relations_pb2.Limit(input=sql, limit=5))
    assert request_tables(request(root=limited)).inputs == ("demo.iris",)


def test_a_plan_without_tables_is_empty():
    rng = relations_pb2.Relation(range=relations_pb2.Range(start=0, end=10, step=1))
    assert not request_tables(request(root=rng))


@pytest.mark.parametrize(
    ("sql", "inputs", "outputs"),
    [
        ("select * from demo.iris a join demo.wine b on a.k = b.k", ["demo.iris", "demo.wine"], []),
        ("WITH x AS (SELECT * FROM demo.iris) SELECT * FROM x", ["demo.iris"], []),
        ("INSERT INTO out.t SELECT * FROM demo.iris -- from nowhere", ["demo.iris"], ["out.t"]),
        ("INSERT OVERWRITE TABLE out.t SELECT 1", [], ["out.t"]),
        (
            "CREATE TABLE IF NOT EXISTS x.y USING parquet AS SELECT * FROM demo.iris",
            ["demo.iris"],
            ["x.y"],
        ),
        ("create table t (a int) using parquet", [], ["t"]),
        ("SELECT 'from fake.table' AS s FROM demo.iris", ["demo.iris"], []),
        ("SELECT * FROM range(10)", [], []),
        ("SELECT * FROM (SELECT * FROM demo.iris) t", ["demo.iris"], []),
        ("ALTER TABLE demo.s__mlplat_staging_1 RENAME TO demo.scored", [], ["demo.scored"]),
        ("DELETE FROM a.b WHERE x IN (SELECT k FROM c.d)", ["c.d"], ["a.b"]),
        ("MERGE INTO a.t USING a.s ON t.k = s.k WHEN MATCHED THEN DELETE", ["a.s"], ["a.t"]),
        ("SHOW TABLES FROM demo", [], []),
        ("DESCRIBE TABLE demo.iris", [], []),
        ("DROP TABLE demo.x; SELECT * FROM demo.y", ["demo.y"], []),
    ],
)
def test_sql_text_names_what_it_reads_and_writes(sql, inputs, outputs):
    assert sql_tables(sql) == Tables(tuple(inputs), tuple(outputs))


# -- digests and records -------------------------------------------------------------------------
def test_the_digest_changes_with_files_or_schema_but_not_file_order():
    columns = [("a", "int")]
    assert digest(["f1", "f2"], columns) == digest(["f2", "f1"], columns)
    assert digest(["f1"], columns) != digest(["f1", "f3"], columns)
    assert digest(["f1"], columns) != digest(["f1"], [("a", "bigint")])


def test_a_recorded_dataset_reads_back():
    snap = Snapshot("demo.iris", "abc", 2, (("x", "double"), ("y", "string")))
    item = dataset_input(snap, "demo.iris", "training")
    run = SimpleNamespace(inputs=SimpleNamespace(dataset_inputs=[item]))
    (back,) = recorded(run)
    assert (back.table, back.digest, back.context) == ("demo.iris", "abc", "training")
    assert back.schema == [{"name": "x", "type": "double"}, {"name": "y", "type": "string"}]


# -- OpenLineage ---------------------------------------------------------------------------------
ACTION = ActionRun(
    "8c5b8e39-5f43-4a5e-9b8a-1c2d3e4f5a6b",
    "0123456789abcdef0123456789abcdef",
    "7",
    "notebook.train.ipynb",
    1000.0,
    1001.5,
    inputs=(LineageDataset("demo.iris", "d1", (("x", "double"),)),),
    outputs=(LineageDataset("demo.out", "d2"),),
)


def test_events_start_and_complete_with_the_mlflow_run_as_parent():
    start, complete = events(ACTION, "mlplat")
    assert (start["eventType"], complete["eventType"]) == ("START", "COMPLETE")
    parent = start["run"]["facets"]["parent"]
    assert parent["run"]["runId"] == "01234567-89ab-cdef-0123-456789abcdef"
    assert start["inputs"][0]["facets"]["version"]["datasetVersion"] == "d1"
    assert start["inputs"][0]["facets"]["schema"]["fields"] == [{"name": "x", "type": "double"}]
    assert complete["outputs"][0]["name"] == "demo.out"
    assert complete["eventTime"] == "1970-01-01T00:16:41.500000Z"


@pytest.fixture
def endpoint():
    with collector() as found:
        yield found


def test_events_are_written_as_json_lines_and_posted(tmp_path, endpoint):
    url, received = endpoint
    config = MLPlat(env={}, lineage_dir=str(tmp_path), openlineage_url=url)
    EventSink(config).emit(ACTION)
    lines = [json.loads(line) for line in next(tmp_path.glob("*.jsonl")).read_text().splitlines()]
    assert [e["eventType"] for e in lines] == ["START", "COMPLETE"]
    assert received == lines


def test_a_kernels_events_go_through_send_and_the_service_keeps_them(tmp_path, endpoint):
    url, received = endpoint
    handed: list = []
    EventSink(MLPlat(env={}, lineage_dir=str(tmp_path / "kernel")), send=handed.extend).emit(ACTION)
    assert [e["eventType"] for e in handed] == ["START", "COMPLETE"]
    assert not (tmp_path / "kernel").exists()  # the kernel wrote nothing itself
    config = MLPlat(env={}, lineage_dir=str(tmp_path / "server"), openlineage_url=url)
    service = LineageService(config, current=lambda _table: None)
    service.keep_events(handed)
    kept = (tmp_path / "server").glob("*.jsonl")
    assert [json.loads(line) for line in next(kept).read_text().splitlines()] == handed
    assert received == handed


@pytest.mark.parametrize(
    "batch", [None, [], [{"eventType": "START"}], [{"eventType": "NOPE", "run": {}, "job": {}}]]
)
def test_malformed_event_batches_are_refused_whole(tmp_path, batch):
    service = LineageService(MLPlat(env={}, lineage_dir=str(tmp_path)), current=lambda _t: None)
    with pytest.raises(InvalidInput):
        service.keep_events(batch)
    assert not list(tmp_path.glob("*"))


# -- the capture ---------------------------------------------------------------------------------
class _Run:
    def __init__(self, run_id: str) -> None:
        self.info = SimpleNamespace(run_id=run_id, experiment_id="1")


def test_nothing_is_noted_without_an_active_run(monkeypatch):
    fake_mlflow = SimpleNamespace(active_run=lambda: None)
    monkeypatch.setitem(__import__("sys").modules, "mlflow", fake_mlflow)
    capture = LineageCapture(MLPlat(env={}))
    capture.on_plan(object(), request(root=read("demo.iris")))
    assert capture._pending == {}


def test_an_action_is_noted_then_handed_over_when_done(monkeypatch):
    fake_mlflow = SimpleNamespace(active_run=lambda: _Run("r1"))
    monkeypatch.setitem(__import__("sys").modules, "mlflow", fake_mlflow)
    capture = LineageCapture(MLPlat(env={}))
    handled = []
    monkeypatch.setattr(capture, "_record", handled.append)
    capture.on_plan(object(), request(root=read("demo.iris")))
    capture.progress(operation_id="op-1", done=False)
    assert "op-1" in capture._pending
    capture.progress(operation_id="op-1", done=True)
    assert capture.flush(5)
    (action,) = handled
    assert (action.run_id, action.tables.inputs, action.failed) == ("r1", ("demo.iris",), False)


def test_a_broken_plan_warns_once_and_raises_nothing(monkeypatch, caplog):
    fake_mlflow = SimpleNamespace(active_run=lambda: _Run("r1"))
    monkeypatch.setitem(__import__("sys").modules, "mlflow", fake_mlflow)
    capture = LineageCapture(MLPlat(env={}))
    for _ in range(3):
        capture.on_plan(object(), object())  # not a request at all
    warnings = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(warnings) == 1 and "lineage capture failed" in warnings[0].getMessage()


def test_a_table_read_again_is_digested_again_only_when_due():
    capture = LineageCapture(MLPlat(env={}, lineage_recheck_seconds=60))
    state = SimpleNamespace(checked={"demo.iris": 100.0})
    assert not capture._due(state, "demo.iris", 130.0)  # type: ignore[arg-type]
    assert capture._due(state, "demo.iris", 161.0)  # type: ignore[arg-type]
    capture._written["demo.iris"] = 120.0  # this session rewrote it since
    assert capture._due(state, "demo.iris", 130.0)  # type: ignore[arg-type]
    assert capture._due(state, "demo.other", 130.0)  # type: ignore[arg-type]


# -- the service ---------------------------------------------------------------------------------
def mlflow_run(run_id: str, *items: tuple[str, str, str]):
    inputs = [
        dataset_input(Snapshot(t, d, 1, (("x", "double"),)), t, context) for t, d, context in items
    ]
    return SimpleNamespace(
        info=SimpleNamespace(run_id=run_id, experiment_id="1", run_name=f"run-{run_id}"),
        inputs=SimpleNamespace(dataset_inputs=inputs),
    )


class FakeClient:
    """MLflow's answers for two runs that read demo.iris (at digests old and new)."""

    runs: ClassVar[dict] = {
        "r1": mlflow_run("r1", ("demo.iris", "old", "training"), ("demo.out", "o1", "output")),
        "r2": mlflow_run("r2", ("demo.iris", "new", "training")),
    }

    def search_experiments(self, max_results):
        return [SimpleNamespace(experiment_id="1")]

    def search_runs(self, ids, filter_string, max_results, order_by):
        assert filter_string == "datasets.name = 'demo.iris'"
        return list(self.runs.values())

    def search_model_versions(self, query):
        assert query == "run_id IN ('r1', 'r2')"
        return [
            SimpleNamespace(name="iris", version="1", run_id="r1"),
            SimpleNamespace(name="iris", version="2", run_id="r2"),
        ]

    def get_model_version(self, name, version):
        return SimpleNamespace(run_id="r1")

    def get_run(self, run_id):
        return self.runs[run_id]


def deployment(name: str, version: str) -> Deployment:
    ref = ModelRef(f"models:/iris/{version}", "iris", version, "", "")
    return Deployment(name, "ada", "local", Revision(ref), endpoint=f"http://127.0.0.1/{name}")


def service() -> LineageService:
    return LineageService(
        MLPlat(env={}),
        current=lambda db, table: Snapshot(f"{db}.{table}", "new", 1, ()),
        deployments=lambda: [deployment("iris-old", "1"), deployment("iris-new", "2")],
        pipelines=lambda table: ["iris_train"] if table == "demo.iris" else [],
        client=FakeClient(),
    )


def test_a_table_is_used_by_runs_versions_deployments_and_pipelines():
    answer = service().table("Demo.Iris")
    assert answer["table"] == "demo.iris" and answer["digest"] == "new"
    used = answer["used_by"]
    assert [(r["run_id"], r["context"], r["digest"]) for r in used["runs"]] == [
        ("r1", "training", "old"),
        ("r2", "training", "new"),
    ]
    assert [(v["version"], v["digest"]) for v in used["versions"]] == [("2", "new"), ("1", "old")]
    assert [d["name"] for d in used["deployments"]] == ["iris-old", "iris-new"]
    assert used["pipelines"] == [{"name": "iris_train"}]
    stale = {i["deployment"]: (i["stale"], i["pipeline"]) for i in answer["impact"]}
    assert stale == {"iris-old": (True, "iris_train"), "iris-new": (False, "iris_train")}


def test_a_version_was_trained_on_a_table_now_changed():
    answer = service().version("iris", "1")
    (trained,) = answer["trained_on"]
    assert (trained["table"], trained["digest"], trained["current_digest"]) == (
        "demo.iris",
        "old",
        "new",
    )
    assert trained["stale"] and trained["schema"] == [{"name": "x", "type": "double"}]
    assert [o["table"] for o in answer["outputs"]] == ["demo.out"]


@pytest.mark.parametrize("bad", ["iris", "a.b.c", "demo.ir-is", ""])
def test_a_malformed_table_name_is_one_line(bad):
    with pytest.raises(InvalidInput):
        table_name(bad)


def test_bare_names_get_the_current_database_and_staging_tables_are_skipped():
    calls = []

    def current_database():
        calls.append(1)
        return "Demo"

    session = SimpleNamespace(catalog=SimpleNamespace(currentDatabase=current_database))
    capture = LineageCapture(MLPlat(env={}))
    names = ("iris", "demo.iris", "out.scored__mlplat_staging_1a2b3c4d", "other.t", "wine")
    assert capture._names(session, names) == ["demo.iris", "other.t", "demo.wine"]
    assert len(calls) == 1  # asked once per action
