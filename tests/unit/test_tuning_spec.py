"""Pure logic of tuning: spec validation, worker shares, default names and workers."""

from __future__ import annotations

import pytest

from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.tuning.spec import TuningSpec, default_study_name, default_workers, share


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        (dict(trials=0), "trials must be a positive whole number, not 0"),
        (dict(trials=-3), "trials must be a positive"),
        (dict(trials=2.5), "trials must be a positive"),
        (dict(trials=True), "trials must be a positive"),
        (dict(trials=3, timeout=0), "timeout must be a positive number of seconds, not 0"),
        (dict(trials=3, timeout=-5.0), "timeout must be a positive"),
        (dict(trials=3, parallel="gpu"), "parallel must be one of none, local, spark, kubernetes"),
        (dict(trials=3, direction="up"), "direction must be one of minimize, maximize, not 'up'"),
        (dict(trials=3, pruner="hyperband"), "pruner must be one of median, none"),
        (dict(trials=3, workers=0), "workers must be a positive"),
        (dict(trials=3, metric=""), "not a valid MLflow metric name"),
        (dict(trials=3, study_name="a b"), "study name 'a b'"),
        (dict(trials=3, register=" "), "register needs a model name"),
    ],
)
def test_bad_specs_are_one_line(kwargs, message):
    with pytest.raises(InvalidInput, match=message) as err:
        TuningSpec(**kwargs).validated()
    assert "\n" not in str(err.value)


def test_good_spec():
    spec = TuningSpec(trials=5, parallel="spark", timeout=1.5, direction="maximize", metric="f1")
    assert spec.validated() is spec


@pytest.mark.parametrize(("trials", "workers"), [(20, 2), (7, 3), (2, 5), (32, 4), (1, 1)])
def test_shares_add_up(trials, workers):
    shares = [share(trials, workers, i) for i in range(workers)]
    assert sum(shares) == trials
    assert max(shares) - min(shares) <= 1


def test_default_study_name():
    assert default_study_name("work/Churn model.ipynb", "objective") == "Churn-model-objective"
    assert default_study_name("/Users/ada", "objective") == "ada-objective"
    assert default_study_name("", "<lambda>") == "study"
    assert len(default_study_name("x" * 300, "f")) == 100


def test_default_workers():
    assert default_workers("none", 20) == 1
    assert default_workers("local", 20, cpus=2) == 2
    assert default_workers("local", 1, cpus=8) == 1
    assert default_workers("spark", 20, spark_slots=6) == 6
    assert default_workers("spark", 20) == 2
    assert default_workers("kubernetes", 3, max_pods=8) == 3
    assert default_workers("kubernetes", 30, max_pods=8) == 8
