"""The Pipelines panel in headless Chromium against the real embedded Airflow: it lists the DAGs
(and a DAG file's import error with file:line), triggers a run and shows its tasks turning green,
shows a failed task's log tail, pauses and unpauses, exports marked notebook cells as a new
pipeline, and opens the Airflow UI in a lab tab. Takes the README's screenshot."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, RunningPlatform, stop_platform
from tests.support.airflow_platform import start_airflow_platform
from tests.ui.lab_page import LabPage, lab_in_browser

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "pipelines.png"
#: The DAG processor parses a new file within seconds; the first parse after start is slower.
PARSE_MS = 180_000
#: A triggered run: the scheduler queues it, the LocalExecutor starts each task process.
RUN_MS = 300_000

HEADER = """
from datetime import datetime

from airflow.sdk import dag, task

MINE = dict(start_date=datetime(2024, 1, 1), catchup=False, tags=["mlplat", "owner:ada"],
            default_args={"owner": "ada", "retries": 0})
"""

DAGS = {
    "train_iris.py": HEADER
    + """
@dag(schedule="@daily", **MINE)
def train_iris():
    @task
    def prepare():
        return "demo.iris"

    @task
    def fit(table):
        return f"models:/iris@challenger ({table})"

    @task
    def evaluate(model):
        return model

    evaluate(fit(prepare()))

train_iris()
""",
    "score_batch.py": HEADER
    + """
@dag(schedule=None, **MINE)
def score_batch():
    @task
    def score():
        raise ValueError("label column 'species' is missing from demo.scores")

    score()

score_batch()
""",
    "broken.py": """from airflow.sdk import dag

raise ImportError("no module named feature_store")  # line 3
""",
}

EXPORTED_CELL = """from airflow.sdk import task

@task
def extract():
    return "demo.iris"

@task
def report(table):
    print("rows of", table)

report(extract())
"""


@pytest.fixture(scope="module")
def platform(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningPlatform]:
    running = start_airflow_platform(tmp_path_factory.mktemp("pipelines-ui"), DAGS)
    yield running
    assert stop_platform(running) == 0


@pytest.fixture(scope="module")
def lab_page(platform: RunningPlatform) -> Iterator[LabPage]:
    with lab_in_browser(platform.lab) as lab_page:
        yield lab_page


def test_panel_lists_the_pipelines_and_the_import_error(lab_page: LabPage) -> None:
    lab_page.open_pipelines()
    lab_page.widen_left_panel(620)
    train = lab_page.pipeline("train_iris")
    expect(train).to_be_visible(timeout=PARSE_MS)
    # Airflow's summary of the timetable: @daily is midnight every day
    expect(lab_page.page.get_by_test_id("mlplat-pipeline-schedule-train_iris")).to_have_text(
        "0 0 * * *"
    )
    expect(train).to_contain_text("ada")  # the owner
    expect(train).to_contain_text("train_iris.py")
    expect(train).to_have_attribute("data-paused", "false")
    expect(lab_page.pipeline("score_batch")).to_contain_text("on demand")
    errors = lab_page.page.get_by_test_id("mlplat-pipelines-import-errors")
    expect(errors).to_contain_text("broken.py:3", timeout=PARSE_MS)
    expect(errors).to_contain_text("feature_store")
    lab_page.screenshot(SCREENSHOT)  # taken again below once a run is green


def test_trigger_shows_the_tasks_turning_green(lab_page: LabPage) -> None:
    lab_page.pipeline_button("trigger", "train_iris").click()
    runs = lab_page.page.get_by_test_id("mlplat-pipeline-runs-train_iris")
    expect(runs.locator(".jp-MLPlatPipelines-run")).to_have_count(1, timeout=30_000)
    run = runs.locator(".jp-MLPlatPipelines-run").first
    for task in ("prepare", "fit", "evaluate"):
        expect(run.get_by_test_id(f"mlplat-task-{task}")).to_have_attribute(
            "data-state", "success", timeout=RUN_MS
        )
    expect(run).to_have_attribute("data-state", "success", timeout=60_000)
    expect(lab_page.page.get_by_test_id("mlplat-pipeline-last-train_iris")).to_have_attribute(
        "data-state", "success"
    )
    # Airflow's own colour for success (green), not a theme colour
    colour = run.get_by_test_id("mlplat-task-fit").evaluate(
        "node => getComputedStyle(node).backgroundColor"
    )
    assert colour.startswith("oklch(0.47 0.2 149") or colour.startswith("rgb(0, 1"), colour
    run.get_by_test_id("mlplat-task-fit").click()  # any task's log, for the screenshot
    expect(lab_page.page.get_by_test_id("mlplat-pipelines-log-text")).to_be_visible(timeout=60_000)
    lab_page.screenshot(SCREENSHOT)


def test_failed_task_shows_its_log_tail(lab_page: LabPage) -> None:
    lab_page.pipeline_button("trigger", "score_batch").click()
    runs = lab_page.page.get_by_test_id("mlplat-pipeline-runs-score_batch")
    task = runs.get_by_test_id("mlplat-task-score").first
    expect(task).to_have_attribute("data-state", "failed", timeout=RUN_MS)
    task.click()
    log = lab_page.page.get_by_test_id("mlplat-pipelines-log-text")
    expect(log).to_contain_text("label column 'species' is missing", timeout=60_000)
    expect(log).to_contain_text("ValueError")


def test_pause_and_unpause(lab_page: LabPage) -> None:
    lab_page.pipeline_button("pause", "train_iris").click()
    expect(lab_page.pipeline("train_iris")).to_have_attribute("data-paused", "true")
    expect(lab_page.page.get_by_test_id("mlplat-pipeline-paused-train_iris")).to_be_visible()
    lab_page.pipeline_button("unpause", "train_iris").click()
    expect(lab_page.pipeline("train_iris")).to_have_attribute("data-paused", "false")
    expect(lab_page.page.get_by_test_id("mlplat-pipeline-paused-train_iris")).to_be_hidden()


def test_export_notebook_as_pipeline(lab_page: LabPage, platform: RunningPlatform) -> None:
    lab_page.new_notebook()
    editor = lab_page.page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").last
    editor.click()
    lab_page.page.keyboard.insert_text(EXPORTED_CELL)
    lab_page.run_command("Export Notebook as Pipeline")  # nothing marked yet: a warning
    expect(lab_page.page.locator(".Toastify__toast", has_text="No cell")).to_be_visible()
    lab_page.run_command("Mark Cell for Pipeline")
    lab_page.run_command("Export Notebook as Pipeline")
    dialog = lab_page.page.get_by_test_id("mlplat-export-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_test_id("mlplat-export-name").fill("row_report")
    dialog.get_by_test_id("mlplat-export-schedule").fill("@weekly")
    dialog.locator("button.jp-mod-accept").click()
    # Airflow imports the file before it is kept (the dialog comes back with the error if not)
    toast = lab_page.page.locator(".Toastify__toast", has_text="Pipeline row_report written")
    expect(toast).to_be_visible(timeout=240_000)
    written = platform.notebook_dir / "pipelines" / "row_report.py"
    assert written.exists()
    text = written.read_text()
    assert "def extract():" in text and '"owner:ada"' in text and '"@weekly"' in text
    pipeline = lab_page.pipeline("row_report")
    expect(pipeline).to_be_visible(timeout=PARSE_MS)
    expect(lab_page.page.get_by_test_id("mlplat-pipeline-schedule-row_report")).to_have_text(
        "0 0 * * 0"  # @weekly
    )


def test_export_refuses_bad_input_in_one_line(lab_page: LabPage) -> None:
    lab_page.run_command("Export Notebook as Pipeline")
    dialog = lab_page.page.get_by_test_id("mlplat-export-dialog")
    accept = dialog.locator("button.jp-mod-accept")
    dialog.get_by_test_id("mlplat-export-name").fill("1 bad name")
    expect(accept).to_be_disabled()  # the name field's pattern: not a DAG id
    dialog.get_by_test_id("mlplat-export-name").fill("row_report_2")
    dialog.get_by_test_id("mlplat-export-schedule").fill("every day")
    accept.click()
    error = lab_page.page.get_by_test_id("mlplat-export-error")  # the dialog opens again
    expect(error).to_contain_text("invalid schedule 'every day'", timeout=60_000)
    lab_page.page.get_by_test_id("mlplat-export-dialog").locator("button.jp-mod-reject").click()
    expect(lab_page.page.get_by_test_id("mlplat-export-dialog")).to_be_hidden()


def test_airflow_ui_opens_in_a_lab_tab(lab_page: LabPage) -> None:
    lab_page.page.get_by_test_id("mlplat-pipelines-open-airflow").click()
    tab = lab_page.page.get_by_test_id("mlplat-airflow")
    expect(tab).to_be_visible()
    frame = lab_page.page.frame_locator("[data-testid=mlplat-airflow] iframe")
    expect(frame.locator("body")).to_contain_text(re.compile("Dags|DAGs"), timeout=120_000)
    src = tab.locator("iframe").get_attribute("src") or ""
    assert src.endswith("/mlplat/airflow/"), src
