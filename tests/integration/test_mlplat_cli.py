"""``mlplat up`` shows each service as it becomes ready; ``mlplat status`` and ``mlplat stop``."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from pathlib import Path

import pytest

from tests.conftest import MLPLAT, ROOT, isolated_env, start_platform, stop_group

pytestmark = pytest.mark.integration

#: ``  ✓ mlflow        ready in 9.8 s  http://127.0.0.1:5000`` (``ok`` where ✓ cannot print)
READY = r"^  (?:✓|ok) {name}\s+ready in\s+(\d+\.\d) s  {detail}$"


def ready_lines(log: str) -> dict[str, tuple[float, int]]:
    """Service -> (seconds, line number) of its ready line."""
    found = {}
    for number, line in enumerate(log.splitlines()):
        match = re.match(r"^  (?:✓|ok) (\S+(?: data)?)\s+ready in\s+(\d+\.\d) s  \S", line)
        if match:
            found[match.group(1)] = (float(match.group(2)), number)
    return found


def mlplat(state_dir: Path, *args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*MLPLAT, "--state-dir", str(state_dir), *args],
        capture_output=True, text=True, env=env, cwd=ROOT, timeout=120, check=False,
    )  # fmt: skip


def test_up_prints_each_service_ready_with_its_time_and_the_demo_steps(platform):
    log = (platform.state_dir.parent / "mlplat-up.log").read_text()
    lines = log.splitlines()
    runtime = platform.runtime
    for name, detail in [
        ("mlflow", re.escape(runtime["tracking_uri"])),
        ("spark-connect", re.escape(runtime["spark_remote"])),
        ("jupyterlab", re.escape(f"http://127.0.0.1:{runtime['lab_port']}/lab")),
        ("demo data", r"demo database \(5 tables created\)"),
    ]:
        pattern = READY.format(name=re.escape(name), detail=detail)
        assert any(re.match(pattern, line) for line in lines), (name, log)
    ready = ready_lines(log)
    # each as it became ready: in the order of their times; the demo data comes after Spark
    services = sorted(ready[n] for n in ("mlflow", "spark-connect", "jupyterlab"))
    assert [line for _, line in services] == sorted(line for _, line in services)
    assert ready["demo data"][1] > ready["spark-connect"][1]
    # not a terminal: the live line's steps are plain lines, before the demo data's ready line
    steps = [
        n for n, line in enumerate(lines) if line.startswith(("  … demo data:", "  .. demo data:"))
    ]
    assert len(steps) >= 7, log  # connecting, warming the metastore, 5 tables
    assert max(steps) < ready["demo data"][1]
    assert any("creating demo.iris (1/5)" in lines[n] for n in steps)
    assert "\r" not in log
    assert lines.index(next(x for x in lines if x.startswith("mlplat: the platform is up"))) > max(
        line for _, line in ready.values()
    )


def test_status_shows_the_running_platform(platform):
    env = isolated_env(platform.state_dir.parent)
    shown = mlplat(platform.state_dir, "status", env=env)
    assert shown.returncode == 0, shown.stderr
    fields = dict(line.split(None, 1) for line in shown.stdout.splitlines())
    assert fields["lab_url"] == platform.runtime["lab_url"]
    assert fields["tracking_uri"] == platform.tracking_uri
    assert fields["tracking_reachable"] == "True"
    assert fields["state_dir"] == str(platform.state_dir)
    as_json = json.loads(mlplat(platform.state_dir, "status", "--json", env=env).stdout)
    assert as_json["pid"] == platform.process.pid
    assert set(as_json["pids"]) == {"mlflow", "spark-connect", "jupyterlab"}


def start_up(tmp_path: Path) -> subprocess.Popen[bytes]:
    """`mlplat up --no-spark` of its own under ``tmp_path`` (log: mlplat-up.log), started."""
    return start_platform(tmp_path, tmp_path / "state", "--no-spark").process


def wait_for_line(log_path: Path, text: str, timeout: float = 60, times: int = 1) -> None:
    deadline = time.monotonic() + timeout
    while log_path.read_text().count(text) < times:
        assert time.monotonic() < deadline, log_path.read_text()
        time.sleep(0.2)


def test_stop_stops_everything_up_started(tmp_path):
    """A second platform of its own (no Spark), stopped with `mlplat stop`."""
    state_dir = tmp_path / "state"
    env = isolated_env(tmp_path)
    log_path = tmp_path / "mlplat-up.log"
    up = start_up(tmp_path)
    try:
        runtime_file = state_dir / "platform.json"
        assert runtime_file.stat().st_mode & 0o777 == 0o600
        pids = json.loads(runtime_file.read_text())["pids"]
        assert set(pids) == {"mlflow", "jupyterlab"}
        assert set(ready_lines(log_path.read_text())) == {"mlflow", "jupyterlab"}
        assert mlplat(state_dir, "status", env=env).returncode == 0

        stopped = mlplat(state_dir, "stop", env=env)
        assert stopped.returncode == 0 and stopped.stdout.strip() == "mlplat: stopped"
        assert up.wait(60) == 0
        assert not runtime_file.exists()
        for pid in pids.values():
            with pytest.raises(ProcessLookupError):
                os.kill(pid, 0)
        assert "mlplat: stopped" in log_path.read_text()

        after = mlplat(state_dir, "status", env=env)
        assert after.returncode == 1 and after.stdout.strip() == "mlplat: not running"
        again = mlplat(state_dir, "stop", env=env)
        assert again.returncode == 0 and again.stdout.strip() == "mlplat: not running"
    finally:
        stop_group(up)


def test_a_signal_while_starting_stops_what_had_started(tmp_path):
    """Ctrl-C / SIGTERM during the start does not wait for the rest to come up."""
    import psutil

    state_dir, notebooks = tmp_path / "state", tmp_path / "notebooks"
    notebooks.mkdir()
    log_path = tmp_path / "up.log"
    with log_path.open("wb") as log:
        up = subprocess.Popen(
            [*MLPLAT, "--state-dir", str(state_dir), "up", "--no-spark",
             "--notebook-dir", str(notebooks)],
            stdout=log, stderr=subprocess.STDOUT, env=isolated_env(tmp_path), cwd=ROOT,
            start_new_session=True,
        )  # fmt: skip
    try:
        deadline = time.monotonic() + 120
        servers: list[psutil.Process] = []
        while len(servers) < 2 and time.monotonic() < deadline:  # mlflow and jupyterlab launched
            servers = psutil.Process(up.pid).children()
            time.sleep(0.2)
        assert len(servers) == 2, log_path.read_text()
        up.send_signal(signal.SIGINT)
        assert up.wait(60) == 130
        assert "interrupted while starting; stopped what had started" in log_path.read_text()
        _, alive = psutil.wait_procs(servers, timeout=30)
        assert alive == []
        assert not (state_dir / "platform.json").exists()
    finally:
        stop_group(up)


def test_a_crashed_service_comes_back_on_its_url_and_a_restart_keeps_the_urls(tmp_path):
    """The supervisor restarts a killed MLflow server after its backoff, on the same port; a
    stopped and started platform has the same URLs as before."""
    import urllib.request

    state_dir, log_path = tmp_path / "state", tmp_path / "mlplat-up.log"
    env = isolated_env(tmp_path)
    up = start_up(tmp_path)
    try:
        first = json.loads((state_dir / "platform.json").read_text())
        for crash in (1, 2):  # each restart waits longer (1 s, then 2 s)
            os.killpg(json.loads((state_dir / "platform.json").read_text())["pids"]["mlflow"], 9)
            wait_for_line(log_path, f"restarting it in {2 ** (crash - 1)} s (crash {crash} of 5")
            wait_for_line(log_path, "mlplat: mlflow restarted", timeout=30, times=crash)
        deadline = time.monotonic() + 60
        while True:
            try:
                with urllib.request.urlopen(f"{first['tracking_uri']}/health", timeout=2):
                    break
            except OSError:
                assert time.monotonic() < deadline, log_path.read_text()
                time.sleep(0.5)
        assert mlplat(state_dir, "stop", env=env).returncode == 0
        assert up.wait(60) == 0
    finally:
        stop_group(up)

    up = start_up(tmp_path)
    try:
        again = json.loads((state_dir / "platform.json").read_text())
        for key in ("tracking_uri", "lab_url", "mlflow_port", "lab_port"):
            assert again[key] == first[key], key
    finally:
        stop_group(up)
