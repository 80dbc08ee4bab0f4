"""JupyterLab in headless Chromium: the extension's UI, a notebook logging to MLflow, the
MLflow UI opened from the lab. Also takes the README's screenshot."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect, sync_playwright

from tests.conftest import ROOT
from tests.ui.lab_page import LabPage, launch

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "lab.png"


@pytest.fixture(scope="module")
def lab_page(lab):
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        lab_page = LabPage(page, lab.url, lab.token)
        lab_page.open()
        yield lab_page
        browser.close()


def test_launcher_has_the_ml_platform_section(lab_page):
    expect(lab_page.launcher_card("ML Platform", "MLflow UI")).to_be_visible()
    expect(lab_page.launcher_card("ML Platform", "Platform Status")).to_be_visible()


def test_status_panel_shows_the_tracking_server(lab_page, platform):
    lab_page.open_status_panel()
    expect(lab_page.status("mlplat-tracking-uri")).to_have_text(platform.tracking_uri)
    expect(lab_page.status("mlplat-user")).to_have_text("ada")
    expect(lab_page.status("mlplat-experiment")).to_have_text("/Users/ada")


def test_notebook_cell_logs_a_run_visible_in_the_mlflow_ui(lab_page, mlflow_client):
    lab_page.new_notebook()
    lab_page.run_cell(
        'import mlflow\nmlflow.log_param("a", 1)\n'
        'mlflow.set_tag("mlflow.runName", "from-the-lab")\nmlflow.end_run()\nprint("logged")'
    )
    expect(lab_page.cell_outputs().filter(has_text="logged")).to_be_visible(timeout=90_000)
    experiment = mlflow_client.get_experiment_by_name("/Users/ada")
    runs = mlflow_client.search_runs(
        [experiment.experiment_id], "tags.`mlflow.runName` = 'from-the-lab'"
    )
    assert runs and runs[0].data.params["a"] == "1"

    frame = lab_page.open_mlflow()
    frame.get_by_text("Model training").first.click(timeout=90_000)
    frame.get_by_text("/Users/ada").first.click()
    expect(frame.get_by_text("from-the-lab").first).to_be_visible(timeout=60_000)
    lab_page.page.get_by_role("tab", name="ML Platform").click()
    expect(lab_page.status("mlplat-tracking-state")).to_contain_text("reachable")
    lab_page.screenshot(SCREENSHOT)
