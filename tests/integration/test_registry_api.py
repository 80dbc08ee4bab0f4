"""The model registry REST API on the real platform: models registered from this process."""

from __future__ import annotations

import uuid
from dataclasses import dataclass

import pytest

pytestmark = pytest.mark.integration


@dataclass
class Registered:
    """What :func:`register_iris_model` put in the registry."""

    name: str
    versions: list[str]
    run_id: str
    experiment_id: str
    tag_value: str
    description_word: str


def register_iris_model(tracking_uri: str, name: str, versions: int = 2) -> Registered:
    """Train a LogisticRegression on iris and register it ``versions`` times, with tags,
    a description, aliases and, on the first run, data-quality results (as ``%%mlp check``
    logs them)."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.datasets import load_iris
    from sklearn.linear_model import LogisticRegression

    mlflow.set_tracking_uri(tracking_uri)
    client = MlflowClient(tracking_uri)
    experiment = mlflow.set_experiment(f"/Users/ada/registry-{name}")
    features, labels = load_iris(return_X_y=True, as_frame=True)
    suffix = name.rsplit("-", 1)[-1]
    tag_value, description_word = f"team-{suffix}", f"petalwise{suffix}"
    client.create_registered_model(
        name,
        tags={"owner_team": tag_value, "task": "classification"},
        description=f"Classifies iris flowers ({description_word}).",
    )
    first_run = ""
    for round_ in range(versions):
        with mlflow.start_run(run_name=f"train-{round_}") as run:
            model = LogisticRegression(max_iter=200, C=1.0 + round_).fit(features, labels)
            mlflow.log_params({"C": 1.0 + round_, "max_iter": 200})
            mlflow.log_metric("accuracy", float(model.score(features, labels)))
            if round_ == 0:
                first_run = run.info.run_id
                mlflow.log_metrics(
                    {
                        "quality.iris_rows.success_ratio": 1.0,
                        "quality.iris_rows.failed_count": 0,
                        "quality.no_nulls.success_ratio": 0.5,
                        "quality.no_nulls.failed_count": 3,
                    }
                )
                mlflow.set_tags(
                    {
                        "mlplat.quality.iris_rows.status": "passed",
                        "mlplat.quality.no_nulls.status": "failed",
                    }
                )
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                input_example=features.head(3),
            )
    client.set_registered_model_alias(name, "champion", "1")
    client.set_registered_model_alias(name, "challenger", str(versions))
    client.set_model_version_tag(name, "1", "validated", "yes")
    return Registered(
        name,
        [str(v) for v in range(1, versions + 1)],
        first_run,
        experiment.experiment_id,
        tag_value,
        description_word,
    )


@pytest.fixture(scope="module")
def iris_model(platform) -> Registered:
    return register_iris_model(platform.tracking_uri, f"iris-api-{uuid.uuid4().hex[:8]}")


def get(lab, path, **params):
    return lab.api("GET", f"mlplat/api/{path}", params=params)


def names(reply) -> list[str]:
    assert reply.status_code == 200, reply.text
    return [m["name"] for m in reply.json()["models"]]


def test_search_by_name_tag_and_description(lab, iris_model):
    assert names(get(lab, "models", q=iris_model.name)) == [iris_model.name]
    assert iris_model.name in names(get(lab, "models", q=iris_model.name.upper()[:12]))
    assert names(get(lab, "models", q=iris_model.tag_value)) == [iris_model.name]
    assert names(get(lab, "models", q=iris_model.description_word.upper())) == [iris_model.name]
    assert iris_model.name in names(get(lab, "models"))
    assert names(get(lab, "models", q="no-such-model-anywhere")) == []

    model = get(lab, "models", q=iris_model.name).json()["models"][0]
    assert model["aliases"] == {"champion": "1", "challenger": "2"}
    assert model["tags"]["owner_team"] == iris_model.tag_value
    assert model["latest_version"] == "2" and model["match"] == "name"
    assert iris_model.description_word in model["description"]
    assert model["updated"] > 1.7e9  # epoch seconds


def test_details_list_versions_with_aliases(lab, iris_model):
    model = get(lab, f"models/{iris_model.name}").json()
    assert model["name"] == iris_model.name
    versions = {v["version"]: v for v in model["versions"]}
    assert list(versions) == ["2", "1"]  # newest first
    assert versions["1"]["aliases"] == ["champion"]
    assert versions["2"]["aliases"] == ["challenger"]
    assert versions["1"]["run_id"] == iris_model.run_id
    assert versions["1"]["tags"] == {"validated": "yes"}
    assert versions["1"]["status"] == "READY"
    assert versions["1"]["source"].startswith("models:/")


def test_version_shows_its_run_and_quality_checks(lab, iris_model):
    version = get(lab, f"models/{iris_model.name}/versions/1").json()
    assert version["version"] == "1" and version["aliases"] == ["champion"]
    run = version["run"]
    assert run["id"] == iris_model.run_id and run["name"] == "train-0"
    assert run["experiment_id"] == iris_model.experiment_id
    assert run["params"] == {"C": "1.0", "max_iter": "200"}
    assert run["metrics"]["accuracy"] > 0.9
    assert not any(k.startswith("quality.") for k in run["metrics"])
    assert run["ui_path"] == (
        f"mlplat/mlflow/#/experiments/{iris_model.experiment_id}/runs/{iris_model.run_id}"
    )
    assert version["quality"] == [
        {"name": "iris_rows", "status": "passed", "success_ratio": 1.0, "failed_count": 0},
        {"name": "no_nulls", "status": "failed", "success_ratio": 0.5, "failed_count": 3},
    ]
    assert version["deployments"] == []
    second = get(lab, f"models/{iris_model.name}/versions/2").json()
    assert second["quality"] == [] and second["run"]["params"]["C"] == "2.0"


def test_the_ui_path_opens_in_the_proxied_mlflow_ui(lab):
    assert lab.api("GET", "mlplat/mlflow/").status_code == 200


@pytest.mark.parametrize(
    ("path", "params", "status", "message"),
    [
        ("models/no-such-model", {}, 404, "no model 'no-such-model'"),
        ("models/{model}/versions/99", {}, 404, "no version 99"),
        ("models/{model}/versions/latest", {}, 400, "invalid model version"),
        ("models/{model}/versions/0", {}, 400, "invalid model version"),
        ("models/no-such-model/versions/1", {}, 404, "no version 1"),
        ("models", {"q": "x" * 500}, 400, "too long"),
        ("models", {"limit": 0}, 400, "limit must be between 1 and 200"),
        ("models", {"limit": 10**6}, 400, "limit must be between 1 and 200"),
        ("models", {"limit": "many"}, 400, "whole number"),
    ],
)
def test_bad_input_gets_a_clear_4xx(lab, iris_model, path, params, status, message):
    response = get(lab, path.format(model=iris_model.name), **params)
    assert response.status_code == status, response.text
    assert message in response.json()["message"]


def test_hostile_search_text_is_harmless(lab, iris_model):
    for query in ["'", '"', "%", "_", "%_%", "' OR 1=1 --", "name = 'x'", "\\", "`"]:
        response = get(lab, "models", q=query)
        assert response.status_code == 200, (query, response.text)
    assert names(get(lab, "models", q="%")) == []  # LIKE wildcards are matched literally
    assert get(lab, f"models/{iris_model.name}").status_code == 200
