"""Evaluation reports in the Models panel, in headless Chromium against the real platform:
``%mlp evaluate`` makes real reports (MLflow evaluate on the demo.iris Spark table) for two
versions, the panel shows each version's report badge, the report tab shows the metrics, the
champion diff, the training data quality and the plots, two versions compare side by side
(a version without a report says how to make one), and the reports search finds a report by
metric threshold. Takes the README's screenshot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from playwright.sync_api import expect

from tests.conftest import ROOT, RunningPlatform
from tests.support.jupyter import KernelConnection
from tests.ui.lab_page import LabPage, lab_in_browser

pytestmark = pytest.mark.ui

SCREENSHOT = ROOT / "docs" / "images" / "reports.png"
#: A first evaluation attaches the kernel to Spark and imports mlflow's evaluator: be generous.
EVALUATE_S = 600


@dataclass
class Registered:
    name: str
    reports: dict[str, str]  # version -> report id


def register_demo_iris(tracking_uri: str, name: str) -> None:
    """Three versions trained on the demo.iris table's columns: v1 a one-split tree (the weak
    @champion), v2 a logistic regression whose run logged data-quality results, v3 another one
    (left without a report)."""
    import mlflow
    from mlflow import MlflowClient
    from sklearn.linear_model import LogisticRegression
    from sklearn.tree import DecisionTreeClassifier

    from jupyter_mlplat.spark.demo import TABLES, frame

    data, _ = frame(next(t for t in TABLES if t.name == "iris"))
    features, labels = data.drop(columns=["species"]), data["species"]
    mlflow.set_tracking_uri(tracking_uri)
    mlflow.set_experiment(f"/Users/ada/reports-{name}")
    models = [
        DecisionTreeClassifier(max_depth=1, random_state=0),
        LogisticRegression(max_iter=500),
        LogisticRegression(max_iter=500, C=0.5),
    ]
    for index, model in enumerate(models):
        with mlflow.start_run(run_name=f"train-{index}"):
            model.fit(features, labels)
            if index == 1:  # as %%mlp check logs them
                mlflow.log_metrics({"quality.iris_rows.success_ratio": 1.0})
                mlflow.set_tags({"mlplat.quality.iris_rows.status": "passed"})
            mlflow.sklearn.log_model(
                model,
                name="model",
                registered_model_name=name,
                input_example=features.head(3),
                skops_trusted_types=["sklearn.tree._tree.Tree"],
            )
    MlflowClient(tracking_uri).set_registered_model_alias(name, "champion", "1")


def evaluate(kernel: KernelConnection, line: str) -> None:
    result = kernel.execute(line, timeout=EVALUATE_S)
    assert result.status == "ok", (result.stdout, result.stderr, result.error)


@pytest.fixture(scope="module")
def model(platform: RunningPlatform) -> Registered:
    name = f"iris-reports-{uuid.uuid4().hex[:6]}"
    register_demo_iris(platform.tracking_uri, name)
    lab = platform.lab
    with lab.kernel(lab.start_session(f"reports-{name}.ipynb")) as kernel:
        evaluate(kernel, f"%mlp evaluate models:/{name}/1 --table demo.iris --label species")
        evaluate(
            kernel,
            f"%mlp evaluate models:/{name}/2 --table demo.iris --label species --against @champion",
        )
    found = lab.api("GET", "mlplat/api/reports", params={"q": f"model:{name}"}).json()
    reports = {r["version"]: r["id"] for r in found["reports"] if r["model"] == name}
    assert set(reports) == {"1", "2"}, found
    return Registered(name, reports)


@pytest.fixture(scope="module")
def lab_page(platform: RunningPlatform) -> Iterator[LabPage]:
    with lab_in_browser(platform.lab) as lab_page:
        yield lab_page


def test_a_version_opens_its_report(lab_page: LabPage, model: Registered) -> None:
    name = model.name
    lab_page.open_models()
    lab_page.widen_left_panel(560)
    lab_page.models_search(name)
    expect(lab_page.model(name)).to_be_visible(timeout=60_000)
    lab_page.open_model(name)
    badge = lab_page.report_badge(name, "2")
    expect(badge).to_contain_text("Report ·", timeout=60_000)  # and the key metric
    expect(lab_page.report_badge(name, "1")).to_be_visible()
    expect(lab_page.report_badge(name, "3")).to_be_hidden()  # no report for v3

    badge.click()
    report = lab_page.report_tab()
    expect(report).to_contain_text(f"{name} version 2", timeout=60_000)
    expect(report.get_by_test_id("mlplat-report-holdout")).to_contain_text("demo.iris")
    expect(report.get_by_test_id("mlplat-report-holdout")).to_contain_text("150")
    metrics = report.get_by_test_id("mlplat-report-metrics")
    expect(metrics.locator("[data-metric=accuracy_score]")).to_be_visible()
    # v2 (a logistic regression) beats the @champion v1 (a one-split tree) on the same holdout
    diff = report.get_by_test_id("mlplat-report-diff")
    expect(diff).to_be_visible()
    expect(report.get_by_test_id("mlplat-report-champion")).to_contain_text("@champion")
    expect(diff.locator("[data-metric=accuracy_score]")).to_have_attribute("data-verdict", "better")
    expect(report.get_by_test_id("mlplat-quality-iris_rows")).to_have_attribute(
        "data-status", "passed"
    )
    plots = report.get_by_test_id("mlplat-report-plots").locator("img")
    expect(plots.first).to_be_visible()
    assert plots.first.evaluate("img => img.naturalWidth") > 0  # the image decoded
    lab_page.screenshot(SCREENSHOT)

    report.get_by_test_id("mlplat-report-html").click()
    frame = lab_page.page.locator("[data-testid=mlplat-report-full]:visible iframe")
    expect(frame).to_have_attribute("sandbox", "")  # a unique origin, no scripts
    expect(lab_page.full_report().locator("body")).to_contain_text("accuracy", timeout=60_000)
    lab_page.activate_tab(f"Report · {name} v2")


def test_two_versions_compare_side_by_side(lab_page: LabPage, model: Registered) -> None:
    name = model.name
    lab_page.compare_pick(name, "1").check()
    expect(lab_page.compare_bar(name)).to_contain_text("one more")
    lab_page.compare_pick(name, "2").check()
    lab_page.compare_button(name).click()
    compare = lab_page.compare_tab()
    table = compare.get_by_test_id("mlplat-compare-metrics")
    expect(table).to_be_visible(timeout=60_000)
    row = table.locator("[data-metric=accuracy_score]")
    expect(row).to_have_attribute("data-better", "v2")
    expect(row.locator("td")).to_have_count(5)  # metric, v1, v2, delta, better
    pairs = compare.get_by_test_id("mlplat-compare-plots").locator(".jp-MLPlatReport-columns")
    expect(pairs.first.locator("img")).to_have_count(2)  # the same plot of both, side by side

    # v3 has no report: the comparison says how to make one
    lab_page.compare_pick(name, "3").check()  # replaces the oldest pick (v1): v2 and v3
    expect(lab_page.compare_pick(name, "1")).not_to_be_checked()
    lab_page.compare_button(name).click()
    missing = lab_page.compare_tab().get_by_test_id("mlplat-report-missing-3")
    expect(missing).to_contain_text(
        f"%mlp evaluate models:/{name}/3 --table demo.iris", timeout=60_000
    )


def test_the_reports_search_finds_a_report_by_metric_threshold(
    lab_page: LabPage, model: Registered
) -> None:
    name = model.name
    lab_page.reports_search(f"metric.accuracy_score > 0.9 model:{name}")
    hit = lab_page.report_hit(name, "2")
    expect(hit).to_contain_text("demo.iris", timeout=60_000)
    expect(hit).to_contain_text("vs @champion: better")
    expect(lab_page.report_hit(name, "1")).to_be_hidden()  # the one-split tree is below 0.9
    lab_page.reports_search(f"metric.accuracy_score > 0.9 model:{name} table:demo.wine")
    expect(lab_page.page.get_by_test_id("mlplat-reports-search-section")).to_contain_text(
        "No report matches", timeout=60_000
    )
    lab_page.reports_search(f"table:demo.iris model:{name}")
    expect(lab_page.report_hit(name, "1")).to_be_visible(timeout=60_000)
    lab_page.report_hit(name, "1").click()
    expect(lab_page.report_tab()).to_contain_text(f"{name} version 1", timeout=60_000)
    expect(lab_page.report_tab().get_by_test_id("mlplat-report-champion")).to_contain_text(
        "champion"  # v1 is the @champion itself: the note says so
    )
