"""The catalog refresh job's state machine, over a fake metastore (pure logic; the real Spark
Connect backend runs in tests/integration/test_catalog_api.py)."""

from __future__ import annotations

import threading

import pytest

from jupyter_mlplat.catalog.index import CatalogIndex, Column, TableEntry
from jupyter_mlplat.catalog.service import CatalogService
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput


class FakeBackend:
    """Two databases; ``gate`` holds the listing of ``sales`` until the test opens it."""

    name = "fake"

    def __init__(self) -> None:
        self.gate = threading.Event()
        self.listings = 0
        self.fail: Exception | None = None

    def databases(self) -> list[tuple[str, str]]:
        if self.fail:
            raise self.fail
        return [("demo", "Demo data"), ("sales", "")]

    def tables(self, database: str) -> list[TableEntry]:
        self.listings += 1
        if database == "sales":
            assert self.gate.wait(10)
            return [TableEntry("sales", "orders")]
        return [TableEntry("demo", "iris"), TableEntry("demo", "wine")]

    def describe(self, database: str, table: str) -> TableEntry:
        return TableEntry(database, table, columns=(Column("id", "bigint"),))

    def close(self) -> None:
        pass


@pytest.fixture
def service(tmp_path):
    backend = FakeBackend()
    with CatalogIndex(tmp_path / "index.db") as index:
        yield CatalogService(MLPlat(), backend, index)  # type: ignore[arg-type]


def test_idle_before_the_first_refresh(service):
    job = service.refresh_job.to_json()
    assert job["state"] == "idle" and job["started"] is None and job["progress"] == 0


def test_a_refresh_runs_in_the_background_and_reports_progress(service):
    job = service.start_refresh()
    assert job.to_json()["state"] == "running"
    # demo is listed, sales waits at the gate: half of the databases are done
    while job.to_json()["databases_done"] < 1:
        threading.Event().wait(0.01)
    running = job.to_json()
    assert running["state"] == "running" and running["databases_total"] == 2
    assert running["tables_total"] == 2 and 0 < running["progress"] < 0.5
    assert "sales" in running["message"]

    service.backend.gate.set()
    assert job.wait(10)
    done = job.to_json()
    assert done["state"] == "done" and done["progress"] == 1.0
    assert (done["databases_done"], done["tables_done"], done["tables_total"]) == (2, 3, 3)
    assert done["result"]["tables"] == 3 and done["result"]["described"] == 3
    assert done["finished"] >= done["started"]
    assert {t.name for t in service.index.tables("sales")} == {"orders"}


def test_a_second_request_joins_the_running_job(service):
    first = service.start_refresh()
    second = service.start_refresh("demo")
    assert second is first and service.refresh_job is first
    service.backend.gate.set()
    assert first.wait(10)
    assert service.backend.listings == 2  # one job: each database listed once
    third = service.start_refresh("demo")
    assert third is not first and third.wait(10)
    assert third.to_json()["result"]["databases"] == 1


def test_a_failed_refresh_says_why_and_the_next_one_starts_afresh(service):
    service.backend.fail = RuntimeError("metastore unreachable\nlong java trace")
    job = service.start_refresh()
    assert job.wait(10)
    failed = job.to_json()
    assert failed["state"] == "failed" and failed["message"] == "metastore unreachable"
    assert failed["finished"] is not None and failed["result"] is None

    service.backend.fail = None
    service.backend.gate.set()
    again = service.start_refresh()
    assert again is not job and again.wait(10) and again.to_json()["state"] == "done"


def test_bad_database_names_are_refused_before_a_job_starts(service):
    with pytest.raises(InvalidInput, match="invalid database name"):
        service.start_refresh("x; drop table")
    assert service.refresh_job.to_json()["state"] == "idle"


def test_a_missing_database_fails_the_job(service):
    job = service.start_refresh("nodb")
    assert job.wait(10)
    assert job.to_json()["state"] == "failed" and "does not exist" in job.to_json()["message"]
