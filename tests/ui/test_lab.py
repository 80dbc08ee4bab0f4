"""JupyterLab in headless Chromium: the extension's UI, a notebook logging to MLflow, the
MLflow UI opened from the lab. Also takes the README's screenshot."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.ui.lab_page import lab_in_browser

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "lab.png"


@pytest.fixture(scope="module")
def lab_page(lab):
    with lab_in_browser(lab) as lab_page:
        yield lab_page


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
    # The session's server holds many experiments by now; find ada's as a user would.
    frame.get_by_role("link", name="Experiments").first.click()
    search = frame.get_by_test_id("search-experiment-input")
    search.fill("/Users/ada")
    search.press("Enter")
    frame.get_by_text("/Users/ada", exact=True).first.click(timeout=60_000)
    expect(frame.get_by_text("from-the-lab").first).to_be_visible(timeout=60_000)
    lab_page.page.get_by_role("tab", name="ML Platform").click()
    expect(lab_page.status("mlplat-tracking-state")).to_contain_text("reachable")
    lab_page.screenshot(SCREENSHOT)


def test_catalog_panel_searches_previews_and_inserts_a_snippet(lab_page):
    lab_page.activate_tab(".ipynb")
    lab_page.open_catalog()
    lab_page.catalog_search("iris")
    lab_page.catalog_result("demo.iris").click(timeout=120_000)
    expect(lab_page.catalog("details")).to_contain_text("demo.iris", timeout=60_000)
    expect(lab_page.catalog("preview")).to_contain_text("sepal_length_cm", timeout=60_000)
    lab_page.catalog_search("")  # back to the tree, with demo.iris revealed
    lab_page.expand_catalog_table("demo.iris")
    expect(lab_page.catalog_column("demo.iris", "sepal_length_cm")).to_be_visible(timeout=60_000)

    lab_page.activate_tab(".ipynb")
    lab_page.catalog("insert").click()
    editor = lab_page.page.locator(".jp-NotebookPanel:visible .jp-Cell.jp-mod-active .cm-content")
    expect(editor).to_contain_text('spark.table("demo.iris")')
    lab_page.run_active_cell()
    table = lab_page.cell_outputs().filter(has_text="petal_width_cm").last
    expect(table).to_be_visible(timeout=120_000)
    expect(table.locator("tbody tr")).to_have_count(10)
    lab_page.screenshot(ROOT / "docs" / "images" / "catalog.png")


def test_catalog_refresh_is_a_server_job_the_panel_follows(lab_page):
    lab_page.catalog("refresh").click()
    summary = re.compile(r"Catalog refreshed: \d+ databases, \d+ tables")  # from the job
    done = lab_page.page.locator(".Toastify__toast", has_text=summary)
    expect(done).to_be_visible(timeout=120_000)
    expect(lab_page.catalog("refresh-progress")).to_be_hidden()
    expect(lab_page.catalog_table("demo.iris")).to_be_visible()
