"""The search index on a real PostgreSQL server: the same searches and deletions as the SQLite
index answers (tests/unit/test_search_index.py), the same results."""

from __future__ import annotations

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import Unavailable
from jupyter_mlplat.search.index import PostgresIndex, index_for
from tests.unit.test_search_index import check_searches, fill, runs

pytestmark = pytest.mark.integration


def test_postgres_index_answers_like_the_sqlite_one(postgres_url):
    index = index_for(MLPlat(env={}, search_index_url=postgres_url))
    assert isinstance(index, PostgresIndex)
    assert index.trigrams  # pg_trgm: run names by a GIN index
    assert not index.ready
    fill(index)
    check_searches(index)
    index.close()
    again = PostgresIndex(postgres_url)  # the schema exists already: created if missing only
    assert again.ready and again.counts()["runs"] == 3
    again.close()


def test_a_schema_1_index_is_migrated_in_place(postgres_url):
    import psycopg

    first = PostgresIndex(postgres_url)
    fill(first)
    first.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # as the previous version left it
        conn.execute('SET search_path TO "mlplat_search"')
        for table in ("run_metrics", "run_params", "run_tags"):
            conn.execute(f"ALTER TABLE {table} DROP COLUMN start_ms")  # and its indexes
        conn.execute("CREATE INDEX run_metrics_by_value ON run_metrics (name, value)")
        conn.execute("DELETE FROM search_sync WHERE key = 'schema'")
    index = PostgresIndex(postgres_url)
    assert index.state("schema") == "2"
    assert runs(index, "metric.rmse < 50") == ["c", "a"]
    assert runs(index, "param.alpha >= 3") == ["c", "b"]
    index.close()


def test_an_unreachable_postgres_is_one_line(postgres_server):
    url = f"postgresql://mlplat@127.0.0.1:{postgres_server.port + 1}/nope"
    with pytest.raises(Unavailable) as error:
        PostgresIndex(url)
    assert "\n" not in str(error.value) and "unreachable" in str(error.value)
