"""The Spark Operator's Helm values we ship: the operator must watch every user namespace.

Encodes the operator's namespace selection (kubeflow/spark-operator v2.5):
- charts/spark-operator-chart/templates/controller/deployment.yaml turns ``spark.jobNamespaces``
  into ``--namespaces`` (omitted when the list is empty) and ``spark.jobNamespaceSelector`` into
  ``--namespace-selector``;
- pkg/util/namespace.go ``NewNamespaceMatcher``: no namespaces and no selector = all namespaces;
  otherwise a namespace is watched if it is listed or its labels match the selector;
- charts/spark-operator-chart/values.yaml: the default ``jobNamespaces: [default]``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
VALUES = ROOT / "spawner_config" / "cluster" / "spark-operator-values.yaml"
CHART_DEFAULTS = {"spark": {"jobNamespaces": ["default"], "jobNamespaceSelector": ""}}


def watched(values: dict, namespace: str, labels: dict[str, str]) -> bool:
    """Whether the operator installed with ``values`` reconciles objects in ``namespace``."""
    spark = {**CHART_DEFAULTS["spark"], **values.get("spark", {})}
    namespaces, selector = list(spark["jobNamespaces"] or []), spark["jobNamespaceSelector"]
    if "" in namespaces or (not namespaces and not selector):
        return True
    if namespace in namespaces:
        return True
    if not selector:
        return False
    # equality-based requirements (k=v, k==v, k!=v), comma-separated: all must hold
    for requirement in selector.split(","):
        if "!=" in requirement:
            key, value = (part.strip() for part in requirement.split("!=", 1))
            if labels.get(key) == value:
                return False
        else:
            key, value = (part.strip() for part in requirement.replace("==", "=").split("=", 1))
            if labels.get(key) != value:
                return False
    return True


@pytest.fixture
def spawner(monkeypatch):
    monkeypatch.syspath_prepend(str(ROOT / "spawner_config"))
    import mlplat_spawner

    yield mlplat_spawner
    sys.modules.pop("mlplat_spawner", None)


def test_the_chart_default_misses_user_namespaces_and_our_values_select_them(spawner):
    [namespace] = [
        r for r in spawner.user_resources("mlplat-ada", "ada") if r["kind"] == "Namespace"
    ]
    name, labels = namespace["metadata"]["name"], namespace["metadata"]["labels"]
    assert not watched(CHART_DEFAULTS, name, labels)  # the 5-minute wait of issue 16

    values = yaml.safe_load(VALUES.read_text())
    assert watched(values, name, labels)
    assert not watched(values, "kube-system", {})  # not every namespace: only the users'
    assert not watched(values, "default", {})
    # the spawner creates the `spark` service account and Role itself
    assert values["spark"]["serviceAccount"] == {"create": False, "name": "spark"}
    assert values["spark"]["rbac"] == {"create": False}
