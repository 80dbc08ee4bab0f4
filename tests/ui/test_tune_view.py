"""The live view of ``%%mlp tune`` in a notebook in headless Chromium against the real platform:
counts and best trial as trials finish, the optimization history drawn in place, the link to the
study's parent run, the Stop button (stopping…, then stopped) and the final plots. Takes the
README's screenshot."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT
from tests.ui.lab_page import lab_in_browser

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "tuning.png"
STUDY = """%%mlp tune --trials 400 --parallel none --name ui-demo --new --metric rmse
import math, time
def objective(trial):
    x = trial.suggest_float("x", -4, 4)
    depth = trial.suggest_int("depth", 1, 8)
    lr = trial.suggest_float("lr", 1e-4, 1e-1, log=True)
    booster = trial.suggest_categorical("booster", ["gbtree", "dart"])
    time.sleep(0.3)
    return (x - 1) ** 2 + 0.2 * depth + abs(math.log10(lr) + 2) + (booster == "dart") * 0.5
"""


@pytest.fixture(scope="module")
def lab_page(lab):
    with lab_in_browser(lab) as lab_page:
        yield lab_page


def test_the_view_follows_the_study_and_stop_ends_it(lab_page, mlflow_client):
    lab_page.new_notebook()
    lab_page.run_cell(STUDY)
    view = lab_page.tune_view()
    expect(view).to_be_visible(timeout=120_000)
    expect(lab_page.tune_view("title")).to_contain_text("study ui-demo")
    link = lab_page.tune_view("link")
    expect(link).to_have_attribute("href", re.compile(r"/mlplat/mlflow/#/experiments/\d+/runs/\w+"))
    history = lab_page.tune_view("history")
    expect(history).to_be_visible(timeout=60_000)  # shown once a trial has finished
    first_plot = history.get_attribute("src")
    expect(lab_page.tune_view("counts")).to_contain_text(
        re.compile(r"\b(1\d|[2-9]\d)/400 trials done"), timeout=90_000
    )
    expect(lab_page.tune_view("best")).to_contain_text(
        re.compile(r"best rmse [\d.]+ \(trial \d+\)")
    )
    # redrawn in place as trials finish (a new image, the same element)
    expect(history).not_to_have_attribute("src", first_plot or "", timeout=30_000)

    stop = lab_page.tune_view("stop")
    stop.click()
    expect(stop).to_be_disabled()
    expect(lab_page.tune_view("title")).to_contain_text(re.compile("stopping…|stopped"))
    expect(stop).to_have_text("Stopped", timeout=60_000)
    expect(lab_page.tune_view("state")).to_have_text("stopped")
    expect(lab_page.tune_view("parallel")).to_be_visible(timeout=60_000)
    expect(lab_page.tune_view("importance")).to_be_visible()
    summary = lab_page.tune_view("summary")
    expect(summary).to_contain_text("best params")
    counts = lab_page.tune_view("counts").inner_text()
    done = int(re.search(r"(\d+)/400", counts).group(1))
    assert 10 <= done < 400, counts

    href = link.get_attribute("href") or ""
    parent = href.rsplit("/", 1)[-1]
    trials = mlflow_client.search_runs(
        [href.split("/experiments/")[1].split("/")[0]],
        filter_string=f"tags.mlflow.parentRunId = '{parent}'",
        max_results=500,
    )
    assert len(trials) == done

    lab_page.toggle_left_sidebar()  # room for the final plots side by side
    lab_page.page.set_viewport_size({"width": 1440, "height": 1320})
    lab_page.scroll_to_top_of(lab_page.tune_cell())
    lab_page.screenshot(SCREENSHOT)
