"""Lineage in the panels, in headless Chromium, from real lineage: a kernel trains a model inside
an MLflow run reading a catalog table (captured with no user code) and registers it; a deployment
record serves that version. The Catalog panel shows the table's *Used by* → the model version in
the Models panel (its *Trained on*) → the deployment; after the table is rewritten the impact view
lists the deployment as stale. Takes the README's screenshot."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.models import Deployment, ModelRef, Revision
from jupyter_mlplat.deploy.service import DeployService
from tests.conftest import ROOT
from tests.integration.test_lineage_kernel import TRAIN, last_json, run_ok
from tests.ui.lab_page import lab_in_browser

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "lineage.png"
TABLE = "default.lineage_ui"
MODEL = "lineage-ui-iris"
DEPLOYMENT = "lineage-ui"


@pytest.fixture(scope="module")
def kernel(lab):
    with lab.kernel(lab.start_session("lineage/ui.ipynb")) as connection:
        yield connection


@pytest.fixture(scope="module")
def trained(kernel, platform, lab):
    """A version of MODEL trained on TABLE, served by the deployment DEPLOYMENT."""
    run_ok(
        kernel,
        f"spark.sql('DROP TABLE IF EXISTS {TABLE}')\n"
        f"spark.sql('CREATE TABLE {TABLE} AS SELECT * FROM demo.iris')",
    )
    refresh_catalog(lab)  # the panel's search finds the new table
    trained = last_json(
        run_ok(kernel, TRAIN.format(read=f'spark.table("{TABLE}").toPandas()', model=MODEL))
    )
    # The record the deploy service keeps (no model server: lineage reads the record).
    config = MLPlat(env={}, user="ada", state_dir=str(platform.state_dir))
    version = trained["version"]
    ref = ModelRef(f"models:/{MODEL}/{version}", MODEL, version, "", "")
    record = Deployment(DEPLOYMENT, "ada", "local", Revision(ref), endpoint="http://x/v2")
    record.created = record.updated = time.time()
    DeployService(config)._save(record)
    return trained


def refresh_catalog(lab, timeout: float = 120) -> None:
    assert lab.api("POST", "mlplat/api/catalog/refresh").status_code == 202
    deadline = time.monotonic() + timeout
    while lab.api("GET", "mlplat/api/catalog/refresh").json()["state"] == "running":
        assert time.monotonic() < deadline, "the catalog refresh did not end"
        time.sleep(0.5)


@pytest.fixture(scope="module")
def lab_page(lab):
    with lab_in_browser(lab) as lab_page:
        yield lab_page


def show_table(lab_page, table: str) -> None:
    lab_page.open_catalog()
    lab_page.catalog_search(table.split(".")[1])
    lab_page.catalog_result(table).click()
    expect(lab_page.catalog("details-name")).to_have_text(table, timeout=60_000)


def test_used_by_leads_to_the_model_version_and_its_deployment(lab_page, trained):
    version = trained["version"]
    lab_page.widen_left_panel(620)
    show_table(lab_page, TABLE)
    lineage = lab_page.page.get_by_test_id("mlplat-lineage-table")
    used_by = lineage.get_by_test_id("mlplat-lineage-used-by")
    expect(used_by.get_by_test_id(f"mlplat-lineage-run-{trained['run_id']}")).to_contain_text(
        "read", timeout=90_000
    )
    expect(used_by.get_by_test_id("mlplat-lineage-deployments")).to_contain_text(DEPLOYMENT)
    impact = lineage.get_by_test_id(f"mlplat-lineage-impact-{DEPLOYMENT}")
    expect(impact).to_have_attribute("data-stale", "false")
    expect(impact).to_contain_text("current")

    # → the model version in the Models panel, trained on the table
    used_by.get_by_test_id(f"mlplat-lineage-version-{MODEL}-{version}").click()
    expect(lab_page.page.get_by_test_id("mlplat-models")).to_be_visible()
    trained_on = lab_page.page.get_by_test_id(f"mlplat-lineage-trained-table-{TABLE}")
    expect(trained_on).to_be_visible(timeout=60_000)
    expect(trained_on).to_have_attribute("data-stale", "false")

    # → back to the catalog at the table
    trained_on.get_by_text(TABLE).click()
    expect(lab_page.page.get_by_test_id("mlplat-catalog")).to_be_visible()
    expect(lab_page.catalog("details-name")).to_have_text(TABLE)

    # → the deployment in the Models panel's deployments
    used_by.get_by_test_id(f"mlplat-lineage-deployment-{DEPLOYMENT}").click()
    deployment = lab_page.deployment(DEPLOYMENT)
    expect(deployment).to_be_visible(timeout=60_000)
    expect(deployment).to_contain_text(MODEL)


def test_the_impact_view_marks_the_deployment_stale_after_a_rewrite(lab_page, kernel, trained):
    run_ok(kernel, f"spark.sql('INSERT INTO {TABLE} SELECT * FROM demo.iris LIMIT 1')")
    show_table(lab_page, TABLE)
    lineage = lab_page.page.get_by_test_id("mlplat-lineage-table")
    lineage.get_by_test_id("mlplat-lineage-reload").click()
    impact = lineage.get_by_test_id(f"mlplat-lineage-impact-{DEPLOYMENT}")
    expect(impact).to_have_attribute("data-stale", "true", timeout=90_000)
    expect(impact).to_contain_text("stale: trained on")
    expect(impact).to_contain_text(f"{MODEL} v{trained['version']}")
    # no pipeline trains on this table: nothing to retrain with
    expect(lineage.get_by_test_id(f"mlplat-lineage-retrain-{DEPLOYMENT}")).to_have_count(0)

    # the version's Trained on now says the table changed since
    lineage.get_by_test_id("mlplat-lineage-versions").get_by_text(
        f"{MODEL} v{trained['version']}"
    ).click()
    trained_on = lab_page.page.get_by_test_id(f"mlplat-lineage-trained-table-{TABLE}")
    expect(trained_on).to_have_attribute("data-stale", "true", timeout=60_000)
    expect(trained_on).to_contain_text("changed since")

    show_table(lab_page, TABLE)
    expect(impact).to_have_attribute("data-stale", "true", timeout=60_000)
    # room for the lineage: the details section folded
    catalog = lab_page.page.get_by_test_id("mlplat-catalog")
    catalog.locator(".lm-AccordionPanel-title", has_text="Details").click()
    lab_page.screenshot(SCREENSHOT)
