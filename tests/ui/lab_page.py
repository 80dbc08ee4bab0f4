"""Page object for JupyterLab with jupyter-mlplat: every selector the UI tests use lives here."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from playwright.sync_api import Browser, FrameLocator, Page, Playwright, expect, sync_playwright

CHROMIUM = "/usr/bin/chromium"  # Debian's package; Playwright cannot download a browser here
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-quic",
]

# the whole platform shares two cores with the browser: UI assertions wait up to 15 s (not 5)
expect.set_options(timeout=15_000)


def launch(playwright: Playwright) -> Browser:
    """Headless Debian Chromium."""
    return playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=CHROMIUM_ARGS)


@contextmanager
def lab_in_browser(lab: Any) -> Iterator[LabPage]:
    """``lab`` (a JupyterServer: url, token) open in headless Chromium, with a fresh workspace."""
    with sync_playwright() as playwright:
        browser = launch(playwright)
        page = browser.new_page(viewport={"width": 1440, "height": 900})
        lab_page = LabPage(page, lab.url, lab.token)
        lab_page.open()
        yield lab_page
        browser.close()


class LabPage:
    """JupyterLab as a user sees it."""

    def __init__(self, page: Page, base_url: str, token: str) -> None:
        self.page = page
        self.base_url = base_url.rstrip("/")
        self.token = token

    def open(self) -> None:
        """The lab with a fresh workspace (a launcher, nothing else open)."""
        self.page.goto(f"{self.base_url}/lab?reset&token={self.token}")
        self.page.locator(".jp-Launcher").first.wait_for(timeout=90_000)

    # -- launcher ----------------------------------------------------------------------------
    def launcher_section(self, title: str):
        return self.page.locator(".jp-Launcher-section", has_text=title)

    def launcher_card(self, section: str, label: str):
        return self.launcher_section(section).locator(".jp-LauncherCard", has_text=label)

    # -- platform status panel ---------------------------------------------------------------
    def open_status_panel(self) -> None:
        self.launcher_card("ML Platform", "Platform Status").click()
        expect(self.status("mlplat-status")).to_be_visible()

    def status(self, testid: str):
        return self.page.get_by_test_id(testid)

    # -- MLflow UI ---------------------------------------------------------------------------
    def run_command(self, label: str) -> None:
        """Run a command from the command palette."""
        self.page.locator("#jp-main-statusbar").click()  # keyboard focus back from any iframe
        self.page.keyboard.press("Control+Shift+C")
        palette = self.page.locator("#command-palette")
        palette.locator("input").fill(label)
        palette.locator(".lm-CommandPalette-item", has_text=label).first.click()

    def open_mlflow(self) -> FrameLocator:
        self.run_command("Open MLflow UI")
        self.page.get_by_test_id("mlplat-mlflow").wait_for()
        return self.page.frame_locator("[data-testid=mlplat-mlflow] iframe")

    # -- data catalog ------------------------------------------------------------------------
    def open_catalog(self) -> None:
        self.run_command("Open Data Catalog")
        expect(self.page.get_by_test_id("mlplat-catalog")).to_be_visible()

    def catalog_search(self, text: str) -> None:
        box = self.page.get_by_test_id("mlplat-catalog-search")
        box.fill(text)

    def catalog_result(self, qualified: str):
        return self.page.get_by_test_id(f"mlplat-catalog-result-{qualified}")

    def catalog_table(self, qualified: str):
        return self.page.get_by_test_id(f"mlplat-catalog-table-{qualified}")

    def expand_catalog_table(self, qualified: str) -> None:
        self.catalog_table(qualified).locator(".jp-MLPlatCatalog-caret").first.click()

    def catalog_column(self, qualified: str, column: str):
        return self.page.get_by_test_id(f"mlplat-catalog-column-{qualified}.{column}")

    def catalog(self, testid: str):
        return self.page.get_by_test_id(f"mlplat-catalog-{testid}")

    # -- models panel --------------------------------------------------------------------------
    def open_models(self) -> None:
        self.run_command("Open Models")
        expect(self.page.get_by_test_id("mlplat-models")).to_be_visible()

    def models_search(self, text: str) -> None:
        self.page.get_by_test_id("mlplat-models-search").fill(text)

    def model(self, name: str):
        return self.page.get_by_test_id(f"mlplat-model-{name}")

    def open_model(self, name: str) -> None:
        self.model(name).locator(".jp-MLPlatModels-modelHead").click()

    def model_version(self, name: str, version: str):
        return self.page.get_by_test_id(f"mlplat-model-version-{name}-{version}")

    def expand_model_version(self, name: str, version: str) -> None:
        self.model_version(name, version).locator(".jp-MLPlatModels-versionToggle").click()

    def model_details(self, name: str, version: str):
        return self.page.get_by_test_id(f"mlplat-model-details-{name}-{version}")

    def deploy_button(self, name: str, version: str):
        return self.page.get_by_test_id(f"mlplat-deploy-{name}-{version}")

    def deploy_dialog(self):
        return self.page.get_by_test_id("mlplat-deploy-dialog")

    def deploy_field(self, field: str):
        """``target``, ``name`` or ``canary`` of the deploy dialog (the status panel also has a
        ``mlplat-deploy-target``)."""
        return self.deploy_dialog().get_by_test_id(f"mlplat-deploy-{field}")

    def submit_deploy(self) -> None:
        self.deploy_dialog().locator("button.jp-mod-accept").click()

    def deployment(self, name: str):
        return self.page.get_by_test_id(f"mlplat-deployment-{name}")

    def deployment_state(self, name: str):
        return self.page.get_by_test_id(f"mlplat-deployment-state-{name}")

    def deployment_action(self, name: str, action: str):
        """``promote``, ``rollback``, ``delete`` or ``copy`` of a deployment."""
        return self.page.get_by_test_id(f"mlplat-deployment-{action}-{name}")

    # -- evaluation reports (models panel) ----------------------------------------------------
    def report_badge(self, name: str, version: str):
        """A version's report badge (its key metric) in the models panel."""
        return self.page.get_by_test_id(f"mlplat-report-badge-{name}-{version}")

    def report_tab(self):
        """The report shown in the main area (other report tabs are hidden)."""
        return self.page.locator("[data-testid=mlplat-report]:visible")

    def full_report(self) -> FrameLocator:
        """The stored report.html, in its sandboxed frame."""
        return self.page.frame_locator("[data-testid=mlplat-report-full]:visible iframe")

    def reports_search(self, text: str) -> None:
        """Type a query (``metric.f1_score > 0.9 table:demo.iris``) in the reports section."""
        self.page.get_by_test_id("mlplat-reports-search").fill(text)

    def report_hit(self, name: str, version: str):
        return self.page.get_by_test_id(f"mlplat-report-hit-{name}-{version}")

    def compare_pick(self, name: str, version: str):
        """The checkbox picking a version for a comparison."""
        return self.page.get_by_test_id(f"mlplat-compare-pick-{name}-{version}")

    def compare_bar(self, name: str):
        return self.page.get_by_test_id(f"mlplat-compare-bar-{name}")

    def compare_button(self, name: str):
        return self.page.get_by_test_id(f"mlplat-compare-{name}")

    def compare_tab(self):
        """The comparison shown in the main area."""
        return self.page.locator("[data-testid=mlplat-report-compare]:visible")

    # -- pipelines panel -----------------------------------------------------------------------
    def open_pipelines(self) -> None:
        self.run_command("Open Pipelines")
        expect(self.page.get_by_test_id("mlplat-pipelines")).to_be_visible()

    def pipeline(self, dag_id: str):
        return self.page.get_by_test_id(f"mlplat-pipeline-{dag_id}")

    def pipeline_button(self, action: str, dag_id: str):
        """``trigger``, ``pause``, ``unpause`` or ``toggle`` (show the runs) of a pipeline."""
        return self.page.get_by_test_id(f"mlplat-pipeline-{action}-{dag_id}")

    # -- search panel --------------------------------------------------------------------------
    def open_search(self) -> None:
        self.run_command("Search Everything")
        expect(self.page.get_by_test_id("mlplat-search")).to_be_visible()

    def search(self, text: str) -> None:
        box = self.page.get_by_test_id("mlplat-search-input")
        box.fill(text)

    def search_group(self, kind: str):
        return self.page.get_by_test_id(f"mlplat-search-group-{kind}")

    def search_result(self, kind: str, result_id: str):
        return self.page.get_by_test_id(f"mlplat-search-result-{kind}-{result_id}")

    def search_error(self):
        return self.page.get_by_test_id("mlplat-search-error")

    def widen_left_panel(self, width: int) -> None:
        """Drag the handle between the left side panel and the main area to ``width`` px."""
        handle = self.page.locator("#jp-main-split-panel > .lm-SplitPanel-handle").first
        box = handle.bounding_box()
        assert box is not None
        self.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
        self.page.mouse.down()
        self.page.mouse.move(width, box["y"] + box["height"] / 2, steps=5)
        self.page.mouse.up()

    def confirm_dialog(self) -> None:
        self.page.locator(".jp-Dialog button.jp-mod-accept").click()

    def activate_tab(self, title: str) -> None:
        self.page.locator(".lm-DockPanel-tabBar .lm-TabBar-tab", has_text=title).first.click()

    # -- notebooks ---------------------------------------------------------------------------
    def new_notebook(self) -> None:
        self.launcher_section("Notebook").locator(".jp-LauncherCard").first.click()
        # creating the file and opening the panel are server round trips: slow on a busy machine
        self.page.locator(".jp-NotebookPanel .jp-Cell").first.wait_for(timeout=90_000)
        kernel_idle = self.page.locator("#jp-main-statusbar", has_text="| Idle")
        expect(kernel_idle).to_be_visible(timeout=90_000)

    def type_in_cell(self, code: str) -> None:
        """Type ``code`` into the notebook's last cell."""
        editor = self.page.locator(".jp-NotebookPanel:visible .jp-Cell .cm-content").last
        editor.click()
        self.page.keyboard.insert_text(code)

    def run_cell(self, code: str) -> None:
        self.type_in_cell(code)
        self.page.keyboard.press("Shift+Enter")

    def active_cell_editor(self):
        return self.page.locator(".jp-NotebookPanel:visible .jp-Cell.jp-mod-active .cm-content")

    # -- completion --------------------------------------------------------------------------
    def completer(self):
        return self.page.locator(".jp-Completer")

    def completion_item(self, text: str):
        return self.page.locator(f".jp-Completer .jp-Completer-item[data-value='{text}']")

    def run_active_cell(self) -> None:
        self.page.locator(".jp-NotebookPanel:visible .jp-Cell.jp-mod-active .cm-content").click()
        self.page.keyboard.press("Shift+Enter")

    def cell_outputs(self):
        return self.page.locator(".jp-NotebookPanel:visible .jp-OutputArea-output")

    # -- the tuning view (%%mlp tune) ----------------------------------------------------------
    def tune_view(self, part: str = ""):
        """The live view of a study in the notebook, or one ``part`` of it: ``title``, ``counts``,
        ``best``, ``stop``, ``state``, ``history``, ``final``, ``parallel``, ``importance``,
        ``summary``, ``link`` (its CSS classes, set by jupyter_mlplat.kernel.tuning_view)."""
        view = self.page.locator(".jp-NotebookPanel:visible .mlplat-tune").last
        return view.locator(f".mlplat-tune-{part}").first if part else view

    def tune_cell(self):
        """The notebook cell that shows the (last) tuning view."""
        has_view = self.page.locator(".mlplat-tune")
        return self.page.locator(".jp-NotebookPanel:visible .jp-Cell", has=has_view).last

    def toggle_left_sidebar(self) -> None:
        self.run_command("Show Left Sidebar")

    def scroll_to_top_of(self, locator: Any) -> None:
        """Scroll the notebook so that ``locator``'s top is at the top of the view."""
        locator.evaluate("node => node.scrollIntoView({block: 'start'})")

    def screenshot(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.page.screenshot(path=str(path))
