"""The reports index on a real PostgreSQL server (full-text + metrics table): the same
searches as the SQLite index answers (tests/unit/test_reports_index.py), the same results."""

from __future__ import annotations

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import Unavailable
from jupyter_mlplat.reports.index import PostgresIndex, index_for
from tests.unit.test_reports_index import check_searches, summaries

pytestmark = pytest.mark.integration


def test_postgres_index_answers_like_the_sqlite_one(postgres_url):
    index = index_for(MLPlat(env={}, reports_index_url=postgres_url))
    assert isinstance(index, PostgresIndex)
    assert index.upsert(summaries()) == 3
    check_searches(index)
    assert index.cursor() == 0
    index.set_cursor(2000)
    index.set_cursor(2500)
    again = PostgresIndex(postgres_url)  # the schema exists already: created if missing only
    assert again.cursor() == 2500
    changed = summaries()[1]
    changed.metrics = {"f1_score": 0.99}
    again.upsert([changed])
    assert [h.id[0] for h in again.search(_parse("metric.f1_score > 0.9"))] == ["b", "a"]


def test_an_unreachable_postgres_is_one_line(postgres_server):
    url = f"postgresql://mlplat@127.0.0.1:{postgres_server.port + 1}/nope"
    with pytest.raises(Unavailable) as error:
        PostgresIndex(url)
    assert "\n" not in str(error.value) and "unreachable" in str(error.value)


def _parse(text):
    from jupyter_mlplat.reports.query import parse

    return parse(text)
