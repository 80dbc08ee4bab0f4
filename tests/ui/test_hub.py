"""The local multi-user hub (``mlplat hub``) in headless Chromium: log in, land in JupyterLab
with the extension, log to MLflow as yourself; another user cannot reach your server."""

from __future__ import annotations

import re
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from playwright.sync_api import Page, expect, sync_playwright

from jupyter_mlplat.hub.client import wait_for_lab
from jupyter_mlplat.infra.processes import Service, free_port
from tests.conftest import ROOT, RunningPlatform, isolated_env
from tests.ui.lab_page import LabPage, launch

pytestmark = pytest.mark.ui

PASSWORD = "hub-test-password"


@dataclass
class RunningHub:
    url: str
    service: Service
    state_dir: Path


def start_hub(base: Path, platform: RunningPlatform, users: str = "ada,bob") -> RunningHub:
    """``mlplat hub`` on the test platform's MLflow and Spark, on a free port, own state."""
    port = free_port()
    env = isolated_env(base) | {"MLPLAT_HUB_PASSWORD": PASSWORD}
    env.pop("MLP_USER")  # the hub serves many users: each server gets its own
    command = [
        sys.executable, "-m", "jupyter_mlplat.platform.cli",
        "--state-dir", str(base / "state"),
        "hub", "--port", str(port), "--users", users,
        "--tracking-uri", platform.tracking_uri,
        "--spark-remote", platform.runtime["spark_remote"],
    ]  # fmt: skip
    service = Service(
        "mlplat-hub", command, f"http://127.0.0.1:{port}/hub/health", base / "hub.log", env, ROOT
    )
    service.start()
    service.wait_ready(180)
    return RunningHub(f"http://127.0.0.1:{port}", service, base / "state")


@pytest.fixture(scope="module")
def hub(tmp_path_factory, platform) -> Iterator[RunningHub]:
    running = start_hub(tmp_path_factory.mktemp("hub"), platform)
    yield running
    running.service.stop(timeout=90)  # SIGTERM: the hub stops the users' servers first


def test_hub_prints_when_jupyterhub_is_ready(hub):
    log = hub.state_dir.parent / "hub.log"
    ready = re.compile(r"^  (?:✓|ok) jupyterhub\s+ready in\s+\d+\.\d s  (\S+)$", re.MULTILINE)
    deadline = time.monotonic() + 30  # printed just after /hub/health answers
    while not ready.search(log.read_text()) and time.monotonic() < deadline:
        time.sleep(0.2)
    found = ready.search(log.read_text())
    assert found and found.group(1) == f"{hub.url}/hub/login", log.read_text()


def log_in(page: Page, hub: RunningHub, user: str) -> None:
    page.goto(f"{hub.url}/hub/login")
    page.locator("#username_input").fill(user)
    page.locator("#password_input").fill(PASSWORD)
    page.locator("#login_submit").click()


@pytest.fixture(scope="module")
def browser():
    with sync_playwright() as playwright:
        browser = launch(playwright)
        yield browser
        browser.close()


def test_log_in_land_in_lab_and_log_to_mlflow_as_yourself(browser, hub, mlflow_client):
    page = browser.new_context(viewport={"width": 1440, "height": 900}).new_page()
    log_in(page, hub, "ada")
    page.locator(".jp-Launcher").first.wait_for(timeout=180_000)
    assert page.url.startswith(f"{hub.url}/user/ada/lab")
    lab = LabPage(page, f"{hub.url}/user/ada", token="")
    # the extension is there: its launcher section and its side panels
    expect(lab.launcher_card("ML Platform", "Platform Status")).to_be_visible()
    for panel in ("mlplat-status-panel", "mlplat-catalog-panel"):
        expect(page.locator(f".jp-SideBar .lm-TabBar-tab[data-id='{panel}']")).to_be_visible()
    lab.open_status_panel()
    expect(lab.status("mlplat-user")).to_have_text("ada")
    expect(lab.status("mlplat-tracking-uri")).to_have_text(mlflow_client.tracking_uri)

    lab.new_notebook()
    lab.run_cell(
        "import mlflow, os\n"
        'with mlflow.start_run(run_name="from-the-hub"):\n'
        '    mlflow.log_param("via", "hub")\n'
        'print("logged", [k for k in os.environ if k.startswith("AWS_")])'
    )
    expect(lab.cell_outputs().filter(has_text="logged []")).to_be_visible(timeout=120_000)
    experiment = mlflow_client.get_experiment_by_name("/Users/ada")
    (run,) = mlflow_client.search_runs(
        [experiment.experiment_id], "tags.`mlflow.runName` = 'from-the-hub'"
    )
    assert run.data.params["via"] == "hub"
    assert run.data.tags["mlflow.user"] == "ada"
    assert run.data.tags["mlplat.user"] == "ada"


def test_another_user_cannot_open_or_call_your_server(browser, hub):
    context = browser.new_context()
    page = context.new_page()
    log_in(page, hub, "bob")
    page.wait_for_url(f"{hub.url}/**/bob/**", timeout=60_000)

    visit = page.goto(f"{hub.url}/user/ada/lab")
    assert visit is not None
    assert visit.status == 403 or "/user/ada/" not in page.url, (visit.status, page.url)
    api = context.request.get(f"{hub.url}/user/ada/api/contents")
    assert api.status == 403
    extension = context.request.get(f"{hub.url}/user/ada/mlplat/api/status")
    assert extension.status == 403
    # and without any cookie, the extension's routes answer 403 through the hub as well
    assert requests.get(f"{hub.url}/user/ada/mlplat/api/status", timeout=30).status_code == 403
    context.close()


def test_scripted_login_reaches_the_lab(hub):
    """What the benchmark does: an HTTP login, the spawn, the OAuth round trip."""
    from jupyter_mlplat.hub.client import login

    session = login(hub.url, "bob", PASSWORD)
    wait_for_lab(session, hub.url, "bob")
    status = session.get(f"{hub.url}/user/bob/mlplat/api/status", timeout=30).json()
    assert status["user"] == "bob"
    assert status["tracking"]["reachable"] is True
