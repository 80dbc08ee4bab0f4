"""schemathesis against ``openapi.yaml`` on the running server: every operation fuzzed with cases
generated from its schema (valid and invalid), each answer checked — no 5xx, a documented status
code, the documented content type, a body matching the documented schema.

The proxies (MLflow, Airflow, the inference gateway) are left out: they pass requests to other
servers' own APIs. The pipelines operations run against a platform whose Airflow is up (on the
session's platform it is not started, and they answer the documented 503); the rest against the
session's platform.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from tests.conftest import ROOT, RunningPlatform, stop_platform
from tests.support.airflow_platform import one_task_dag, start_airflow_platform
from tests.support.jupyter import JupyterServer

pytestmark = pytest.mark.integration

SPEC = ROOT / "jupyter_mlplat" / "server" / "openapi.yaml"
SCHEMA = schemathesis.openapi.from_path(str(SPEC)).exclude(
    path_regex=r"^/mlplat/(mlflow|airflow|serving)/"
)
OPERATIONS = {result.ok().label: result.ok() for result in SCHEMA.get_all_operations()}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
#: Generated cases per operation: enough to reach the error branches, small enough for CI.
EXAMPLES = 15
CASES: collections.Counter[str] = collections.Counter()
PIPELINES = sorted(label for label in OPERATIONS if "/mlplat/api/pipelines" in label)
DAG = one_task_dag("fuzzed")


@pytest.fixture(scope="module")
def airflow_platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_airflow_platform(tmp_path_factory.mktemp("fuzz"), {"fuzzed.py": DAG})
    yield running
    stop_platform(running)


@pytest.mark.parametrize("label", sorted(set(OPERATIONS) - set(PIPELINES)))
def test_operation_answers_by_its_spec(lab, label):
    fuzz(lab, label)


@pytest.mark.parametrize("label", PIPELINES)
def test_pipelines_operation_answers_by_its_spec(airflow_platform, label):
    fuzz(airflow_platform.lab, label)


def fuzz(lab: JupyterServer, label: str) -> None:
    operation = OPERATIONS[label]

    @given(case=operation.as_strategy())
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        database=None,
        derandomize=True,  # the same cases on every run: CI is reproducible
        phases=[Phase.explicit, Phase.generate, Phase.shrink],
        suppress_health_check=list(HealthCheck),
    )
    def answers(case):
        CASES[label] += 1
        case.call_and_validate(
            base_url=lab.url,
            headers={"Authorization": f"token {lab.token}"},
            checks=CHECKS,
            timeout=60,
        )

    answers()
    assert CASES[label] > 0
