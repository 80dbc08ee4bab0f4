"""``spark`` in a fresh kernel with no setup: queries, progress bars, restarts of the server."""

from __future__ import annotations

import json
import os
import re
import signal
import socket
import time

import pytest

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def kernel(lab, platform):
    (platform.notebook_dir / "spark").mkdir(exist_ok=True)
    with lab.kernel(lab.start_session("spark/explore.ipynb")) as connection:
        yield connection


def run_ok(kernel, code):
    result = kernel.execute(code)
    assert result.status == "ok", (result.stderr, result.error and result.error["traceback"])
    return result


def test_spark_is_ready_with_no_setup(kernel):
    result = run_ok(kernel, "spark.sql('select count(*) as n from demo.iris').collect()[0].n")
    assert result.value == "150"


def test_multi_stage_job_shows_a_live_progress_bar(kernel):
    result = run_ok(
        kernel,
        "spark.range(0, 2_000_000, 1, 8).selectExpr('id % 97 as k', 'id')"
        ".groupBy('k').count().orderBy('k').collect()[:2]",
    )
    kinds = [m["msg_type"] for m in result.messages]
    bars = [
        m
        for m in result.messages
        if m["msg_type"] in {"display_data", "update_display_data"}
        and "mlplat-spark-progress" in m["content"]["data"].get("text/html", "")
    ]
    assert bars and bars[0]["msg_type"] == "display_data"
    assert any(m["msg_type"] == "update_display_data" for m in bars), kinds
    display_ids = {m["content"]["transient"]["display_id"] for m in bars}
    assert len(display_ids) == 1
    final = bars[-1]["content"]["data"]["text/html"]
    assert "done" in final and "width:100.0%" in final
    # Spark Connect reports progress every 500 ms: stages that start and end between two reports
    # (the reduce side of this shuffle, on a busy machine) never reach the client; adding up the
    # stages of several reports is unit-tested in test_spark_progress.py
    ran = re.search(r"(\d+) stages ran(?:, \d+ skipped)? · (\d+) tasks", final)
    assert ran and int(ran.group(1)) >= 1 and int(ran.group(2)) >= 8, final
    assert "running" in bars[0]["content"]["data"]["text/html"]


def test_mlp_spark_reports_the_session(kernel):
    html = "".join(run_ok(kernel, "%mlp spark").data("text/html"))
    assert "ready" in html and "session id" in html and "Spark UI" in html


def test_a_users_own_get_or_create_attaches_to_the_platforms_spark(lab, platform):
    """Kernels get SPARK_REMOTE: SparkSession.builder.getOrCreate() starts no JVM in the kernel."""
    with lab.kernel(lab.start_session("spark/own_session.ipynb")) as fresh:
        result = run_ok(
            fresh,
            "import os\nfrom pyspark.sql import SparkSession\n"
            "own = SparkSession.builder.getOrCreate()\n"
            "print(os.environ['SPARK_REMOTE'], type(own).__module__, own.range(5).count())",
        )
        remote, module, count = result.stdout.split()
        assert remote == platform.runtime["spark_remote"]
        assert module == "pyspark.sql.connect.session" and count == "5"
        jvm = run_ok(
            fresh,
            "import psutil\nfrom pyspark import SparkContext\n"
            "children = [p.name() for p in psutil.Process().children(recursive=True)]\n"
            "print(SparkContext._active_spark_context is None, 'java' in children)",
        )
        assert jvm.stdout.split() == ["True", "False"]
        # the platform's `spark` in the same kernel is a session on the same server
        same = run_ok(fresh, "print(spark.range(3).count(), own.range(2).count())")
        assert same.stdout.split() == ["3", "2"]


def test_kernel_and_catalog_reattach_after_the_spark_server_restarts(kernel, platform, lab):
    before = run_ok(kernel, "print(spark.session_id)").stdout.strip()
    runtime = json.loads((platform.state_dir / "platform.json").read_text())
    os.killpg(runtime["pids"]["spark-connect"], signal.SIGKILL)
    wait_for_restart(platform, runtime)
    result = run_ok(kernel, "spark.sql('select count(*) as n from demo.wine').collect()[0].n")
    assert result.value == "178"
    assert "Spark server restarted" in result.stderr
    after = run_ok(kernel, "print(spark.session_id)").stdout.strip()
    assert after != before
    preview = lab.api("GET", "mlplat/api/catalog/tables/demo/wine/preview", params={"limit": 3})
    assert preview.status_code == 200, preview.text  # the server's own session came back too


def wait_for_restart(platform, runtime, timeout=120):
    """mlplat up restarts the dead server on the same port."""
    deadline = time.monotonic() + timeout
    port = runtime["spark_port"]
    while time.monotonic() < deadline:
        current = json.loads((platform.state_dir / "platform.json").read_text())
        if current["pids"]["spark-connect"] != runtime["pids"]["spark-connect"]:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                return
            except OSError:
                pass
        time.sleep(0.5)
    raise TimeoutError("the Spark Connect server was not restarted")
