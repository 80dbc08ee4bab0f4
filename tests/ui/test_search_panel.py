"""The Search panel in headless Chromium: a metric threshold finds the model version (a click
opens it in the Models panel), a column comment finds the table (a click opens the catalog), a
malformed query says where. Takes the README's screenshot."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.integration.test_search import train_ridges, wait_until_searchable
from tests.ui.lab_page import lab_in_browser

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "search.png"


@pytest.fixture(scope="module")
def trained(platform, lab):
    trained = train_ridges(platform.tracking_uri)
    wait_until_searchable(lab, trained)
    return trained


@pytest.fixture(scope="module")
def lab_page(lab):
    with lab_in_browser(lab) as lab_page:
        yield lab_page


def test_a_metric_threshold_finds_the_model_version(lab_page, trained):
    lab_page.open_search()
    lab_page.widen_left_panel(520)
    lab_page.search(f"metric.rmse < 50 model:{trained.model}")
    version = lab_page.search_result("version", f"{trained.model}/1")
    expect(version).to_be_visible(timeout=60_000)
    expect(version).to_contain_text("rmse 42")
    expect(lab_page.search_result("version", f"{trained.model}/2")).to_have_count(0)
    expect(lab_page.search_result("model", trained.model)).to_be_visible()
    version.click()
    expect(lab_page.page.get_by_test_id("mlplat-models")).to_be_visible()
    expect(lab_page.model_details(trained.model, "1")).to_be_visible(timeout=60_000)


def test_a_column_comment_finds_the_table(lab_page, lab, trained):
    # a describe through Spark Connect indexes the columns and their comments
    assert lab.api("GET", "mlplat/api/catalog/tables/demo/diabetes").status_code == 200
    lab_page.open_search()
    lab_page.search(f"quantitative OR metric.rmse < 50 model:{trained.model}")
    table = lab_page.search_result("table", "demo.diabetes")
    expect(table).to_be_visible(timeout=60_000)
    expect(table).to_contain_text("progression")
    expect(lab_page.search_result("column", "demo.diabetes.progression")).to_be_visible()
    expect(lab_page.search_group("version")).to_be_visible()
    lab_page.screenshot(SCREENSHOT)
    table.click()
    expect(lab_page.page.get_by_test_id("mlplat-catalog")).to_be_visible()
    expect(lab_page.page.get_by_test_id("mlplat-catalog")).to_contain_text(
        "demo.diabetes", timeout=60_000
    )


def test_a_malformed_query_says_where(lab_page):
    lab_page.open_search()
    lab_page.search("metric.rmse <")
    expect(lab_page.search_error()).to_contain_text("at character 13")
