"""Spark on Kubernetes: names, settings and pod templates (the API side is in tests/integration)."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.infra.kube import user_label
from jupyter_mlplat.spark.kubernetes import (
    KubernetesBackend,
    load_pod_template,
    parse_spark_conf,
    resource_name,
    spark_version,
)


def test_resource_names_are_dns_labels_short_enough_for_spark():
    assert resource_name("ada") == "spark-ada"
    assert resource_name("Ada.Lovelace@example.org").startswith("spark-ada-lovelace-example-org-")
    assert resource_name("Ada") != resource_name("ada")  # altered names get a hash
    long = resource_name("x" * 100)
    assert len(long) == 47  # Spark's limit for the executor pod name prefix (the name)
    assert user_label("Ada.Lovelace@example.org") == resource_name("Ada.Lovelace@example.org")[6:]


def test_spark_version_comes_from_the_image_tag():
    assert spark_version("apache/spark:4.0.1") == "4.0.1"
    assert spark_version("registry:5000/spark:3.5.6-scala2.12-java17-python3-ubuntu") == "3.5.6"
    assert spark_version("registry:5000/team/spark") == spark_version("spark@sha256:ab12")


def test_spark_conf_entries_must_be_key_value():
    assert parse_spark_conf([" a.b = 1 ", "c=x=y"]) == {"a.b": "1", "c": "x=y"}
    with pytest.raises(InvalidInput, match="'oops' is not key=value"):
        parse_spark_conf(["oops"])


def test_pod_templates(tmp_path):
    pod_template = tmp_path / "template.yaml"
    pod_template.write_text("kind: PodTemplate\ntemplate:\n  spec:\n    priorityClassName: low\n")
    assert load_pod_template(str(pod_template)) == {"spec": {"priorityClassName": "low"}}
    not_a_pod = tmp_path / "list.yaml"
    not_a_pod.write_text("- a\n- b\n")
    with pytest.raises(InvalidInput, match="is not a pod"):
        load_pod_template(str(not_a_pod))
    with pytest.raises(InvalidInput, match="cannot read the Spark pod template"):
        load_pod_template(str(tmp_path / "missing.yaml"))


def test_executor_bounds_are_checked():
    config = MLPlat(env={"MLP_SPARK_EXECUTORS_MIN": "5", "MLP_SPARK_EXECUTORS_MAX": "2"})
    with pytest.raises(InvalidInput, match=r"spark_executors_min \(5\) is larger"):
        KubernetesBackend(config).manifest()


NO_CLUSTER = """
import json, sys
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.spark.backends import backend_for
backend = backend_for(MLPlat(env={"MLP_SPARK_MODE": "kubernetes", "MLP_USER": "ada"}))
imported_early = "kubernetes" in sys.modules
print(json.dumps({"imported_early": imported_early, "state": backend.state()}))
"""


def test_kubernetes_is_imported_on_first_use_and_a_missing_cluster_is_a_state(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("KUBERNETES_")}
    env |= {"KUBECONFIG": str(tmp_path / "none"), "HOME": str(tmp_path)}
    out = subprocess.run(
        [sys.executable, "-c", NO_CLUSTER], env=env, capture_output=True, text=True, check=True
    ).stdout
    seen = json.loads(out)
    assert seen["imported_early"] is False
    assert seen["state"]["state"] == "unavailable"
    assert seen["state"]["error"].startswith(
        "cannot configure the Kubernetes client: no Kubernetes configuration"
    )
