"""Catalog completion in a notebook in headless Chromium: Tab inside ``spark.table("de`` offers
the demo database and its tables, picking one inserts it; Tab in ``spark.sql`` offers columns.
Takes the README's screenshot."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.integration.test_completion_kernel import wait_for_the_demo_catalog
from tests.ui.lab_page import LabPage, lab_in_browser

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "completion.png"


@pytest.fixture(scope="module")
def lab_page(lab):
    wait_for_the_demo_catalog(lab)
    with lab_in_browser(lab) as lab_page:
        lab_page.new_notebook()
        yield lab_page


def tab_until_offered(lab_page: LabPage, text: str) -> None:
    """Press Tab until ``text`` is offered: a Tab whose lookup took over 200 ms offers nothing
    (the kernel keeps the late answer for the next one)."""
    for _ in range(10):
        lab_page.page.keyboard.press("Tab")
        try:
            expect(lab_page.completion_item(text)).to_be_visible(timeout=3_000)
            return
        except AssertionError:  # back to the end of the cell, in edit mode, for the next Tab
            lab_page.active_cell_editor().click()
            lab_page.page.keyboard.press("Control+End")
    expect(lab_page.completion_item(text)).to_be_visible()


def test_tab_in_spark_table_offers_databases_and_tables(lab_page):
    lab_page.type_in_cell('df = spark.table("de')
    tab_until_offered(lab_page, "demo.iris")
    expect(lab_page.completion_item("demo")).to_be_visible()
    expect(lab_page.completion_item("demo.wine")).to_be_attached()
    lab_page.screenshot(SCREENSHOT)
    lab_page.completion_item("demo.iris").click()
    expect(lab_page.completer()).to_be_hidden()
    expect(lab_page.active_cell_editor()).to_have_text('df = spark.table("demo.iris')


def test_tab_in_spark_sql_offers_columns(lab_page):
    lab_page.page.keyboard.press("End")
    lab_page.page.keyboard.press("Enter")
    lab_page.page.keyboard.insert_text('spark.sql("SELECT * FROM demo.iris WHERE sepal')
    tab_until_offered(lab_page, "sepal_length_cm")
    expect(lab_page.completion_item("sepal_width_cm")).to_be_visible()
    expect(lab_page.completion_item("petal_length_cm")).to_have_count(0)
