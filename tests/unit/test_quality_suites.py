"""Saved suites: plain files in the project that read back to the same expectations."""

from __future__ import annotations

import subprocess

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, NotFound
from jupyter_mlplat.quality import suites
from jupyter_mlplat.quality.spec import parse

BODY = """
order_id: not_null, unique
amount: between 0 10000 mostly=0.99
country: in [DE, FR, "P L"]
email: regex "^[^@]+@x\\.org$"
`rows`: not_null
rows: between 1000 1e6
columns: [order_id, amount, country, email, rows]
ExpectColumnValuesToBeInSet(column='country', value_set=['DE'])
"""


@pytest.fixture
def project(tmp_path, monkeypatch):
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / "notebooks" / "deep").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "notebooks" / "deep")
    return tmp_path


def test_round_trip_keeps_every_expectation(project):
    config = MLPlat(env={})
    specs = parse(BODY).expectations
    path = suites.save_suite(config, "orders", specs)
    assert path == project / "quality" / "suites" / "orders.txt"  # the project root, not the cwd
    assert suites.load_suite(config, "orders") == specs
    text = path.read_text()
    assert "order_id: not_null, unique\n" in text  # readable: checks of a column on one line
    assert suites.list_suites(config) == ["orders"]


def test_suites_include_suites_and_cycles_are_refused(project):
    config = MLPlat(env={})
    suites.save_suite(config, "base", parse("id: not_null").expectations)
    folder = suites.suites_dir(config)
    (folder / "orders.txt").write_text("suite: base\namount: between 0 1\n")
    assert [s.to_line() for s in suites.load_suite(config, "orders")] == [
        "id: not_null",
        "amount: between 0 1",
    ]
    (folder / "a.txt").write_text("suite: b\n")
    (folder / "b.txt").write_text("suite: a\n")
    with pytest.raises(InvalidInput, match="includes itself"):
        suites.load_suite(config, "a")


def test_missing_and_broken_suites_say_where_they_looked(project):
    config = MLPlat(env={})
    suites.save_suite(config, "orders", parse("id: unique").expectations)
    with pytest.raises(NotFound, match=r"no saved suite 'nope' in .*\(saved suites: orders\)"):
        suites.load_suite(config, "nope")
    (suites.suites_dir(config) / "bad.txt").write_text("id: sometimes\n")
    with pytest.raises(InvalidInput, match=r"suite 'bad' .*line 1"):
        suites.load_suite(config, "bad")
    with pytest.raises(InvalidInput, match="invalid suite name"):
        suites.save_suite(config, "../escape", parse("id: unique").expectations)
    with pytest.raises(InvalidInput, match="empty"):
        suites.save_suite(config, "empty", [])


def test_an_absolute_directory_is_used_as_is(tmp_path):
    config = MLPlat(env={"MLP_QUALITY_SUITES_DIR": str(tmp_path / "s")})
    assert suites.suites_dir(config) == tmp_path / "s"
