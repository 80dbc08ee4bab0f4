"""The models panel in headless Chromium: search the registry, inspect a version, deploy it
locally from the dialog and watch the deployment become ready. Takes the README's screenshot."""

from __future__ import annotations

import uuid

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.integration.test_registry_api import register_iris_model
from tests.ui.lab_page import lab_in_browser

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "models.png"
#: The serving environment may be built on the first deploy: be generous.
DEPLOY_TIMEOUT_MS = 900_000


@pytest.fixture(scope="module")
def iris_model(platform):
    return register_iris_model(platform.tracking_uri, f"iris-ui-{uuid.uuid4().hex[:6]}")


@pytest.fixture(scope="module")
def lab_page(lab):
    with lab_in_browser(lab) as lab_page:
        yield lab_page


def test_panel_finds_the_model_and_shows_its_versions(lab_page, iris_model):
    lab_page.open_models()
    lab_page.widen_left_panel(560)
    lab_page.models_search(iris_model.tag_value)  # a tag value finds it too
    expect(lab_page.model(iris_model.name)).to_be_visible(timeout=60_000)
    lab_page.models_search(iris_model.name)
    model = lab_page.model(iris_model.name)
    expect(model).to_contain_text("@champion → v1", timeout=60_000)
    lab_page.open_model(iris_model.name)
    expect(lab_page.model_version(iris_model.name, "2")).to_contain_text("@challenger")
    version = lab_page.model_version(iris_model.name, "1")
    expect(version).to_contain_text("@champion")

    lab_page.expand_model_version(iris_model.name, "1")
    details = lab_page.model_details(iris_model.name, "1")
    expect(details).to_contain_text("train-0", timeout=60_000)
    expect(details.get_by_test_id("mlplat-model-params")).to_contain_text("max_iter")
    expect(details.get_by_test_id("mlplat-model-metrics")).to_contain_text("accuracy")
    expect(details.get_by_test_id("mlplat-quality-iris_rows")).to_have_attribute(
        "data-status", "passed"
    )
    expect(details.get_by_test_id("mlplat-quality-no_nulls")).to_have_attribute(
        "data-status", "failed"
    )
    details.get_by_text("Open run in MLflow").click()
    frame = lab_page.page.frame_locator("[data-testid=mlplat-mlflow] iframe")
    expect(frame.get_by_text(iris_model.run_id).first).to_be_visible(timeout=90_000)


def test_deploy_dialog_validates_and_deploys_until_ready(lab_page, iris_model, lab):
    lab_page.deploy_button(iris_model.name, "1").click()
    dialog = lab_page.deploy_dialog()
    expect(dialog).to_be_visible()
    name = lab_page.deploy_field("name")
    expect(name).to_have_value(iris_model.name)  # derived from the model name
    expect(lab_page.deploy_field("canary")).to_be_hidden()  # no deployment by that name yet

    name.fill("Bad Name!")
    expect(dialog.get_by_test_id("mlplat-deploy-errors")).to_contain_text("lowercase")
    expect(dialog.locator("button.jp-mod-accept")).to_be_disabled()
    name.fill(iris_model.name)
    expect(dialog.locator("button.jp-mod-accept")).to_be_enabled()

    lab_page.deploy_field("target").select_option("local")
    lab_page.submit_deploy()
    expect(dialog).to_be_hidden()

    deployment = lab_page.deployment(iris_model.name)
    expect(deployment).to_be_visible(timeout=60_000)
    expect(lab_page.deployment_state(iris_model.name)).to_have_text(
        "ready", timeout=DEPLOY_TIMEOUT_MS
    )
    expect(deployment).to_contain_text(f"stable {iris_model.name} v1 · 100%")
    expect(
        deployment.get_by_test_id(f"mlplat-deployment-endpoint-{iris_model.name}")
    ).to_contain_text("http://")
    expect(lab_page.model_version(iris_model.name, "1")).to_contain_text(f"▶ {iris_model.name}")
    lab_page.screenshot(SCREENSHOT)

    # The deployment serves predictions at the endpoint the panel shows.
    record = lab.api("GET", f"mlplat/api/deployments/{iris_model.name}").json()
    assert record["state"] == "ready"
    version = lab.api("GET", f"mlplat/api/models/{iris_model.name}/versions/1").json()
    assert version["deployments"] == [iris_model.name]


def test_canary_then_promote_then_rollback(lab_page, iris_model):
    name = iris_model.name
    lab_page.deploy_button(name, "2").click()
    expect(lab_page.deploy_dialog()).to_be_visible()
    expect(lab_page.deploy_field("canary")).to_be_visible()  # the name exists: a canary is offered
    lab_page.deploy_field("canary").fill("150")
    expect(lab_page.deploy_dialog()).to_contain_text("between 1 and 99")
    lab_page.deploy_field("canary").fill("25")
    lab_page.submit_deploy()
    deployment = lab_page.deployment(name)
    expect(deployment).to_contain_text(f"canary {name} v2 · 25%", timeout=60_000)
    expect(lab_page.deployment_state(name)).to_have_text("ready", timeout=DEPLOY_TIMEOUT_MS)
    expect(deployment).to_contain_text(f"stable {name} v1 · 75%")
    routing = lab_page.page.get_by_test_id(f"mlplat-deployment-routing-{name}")
    expect(routing).to_have_text("weighted canary")  # the local gateway applies the split

    lab_page.deployment_action(name, "promote").click()
    lab_page.confirm_dialog()
    expect(deployment).to_contain_text(f"stable {name} v2 · 100%", timeout=DEPLOY_TIMEOUT_MS)
    expect(lab_page.deployment_state(name)).to_have_text("ready", timeout=DEPLOY_TIMEOUT_MS)

    lab_page.deployment_action(name, "rollback").click()
    lab_page.confirm_dialog()
    expect(deployment).to_contain_text(f"stable {name} v1 · 100%", timeout=DEPLOY_TIMEOUT_MS)
    expect(lab_page.deployment_state(name)).to_have_text("ready", timeout=DEPLOY_TIMEOUT_MS)


def test_delete_asks_first_and_removes_the_deployment(lab_page, iris_model):
    lab_page.deployment_action(iris_model.name, "delete").click()
    lab_page.confirm_dialog()
    expect(lab_page.deployment(iris_model.name)).to_be_hidden(timeout=120_000)
