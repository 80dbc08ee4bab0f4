"""Local hub: login -> JupyterLab usable, one cold spawn and N users one after another.

Starts its own MLflow (no Spark) and ``mlplat hub`` state in a temporary directory. "Usable"
means: the HTTP login went through, the spawn finished, the OAuth round trip to the user's
server succeeded, ``/lab`` loaded and ``/api/status`` answers through the hub (what the browser
needs before the launcher shows); the client follows the hub's spawn progress stream as the
browser's spawn-pending page does. Baseline of the same run: a plain ``jupyter lab`` (with the
extension) from launch to the same two answers, started next to every user's login (order
alternating; ``--baseline-every K``: next to every K-th), as the load of a shared machine drifts
and grows with the users' servers left running. Prints median / p95, failures, the ratio of the
medians (the goal) and the median of the per-pair ratios, and the CPU seconds a server used
until it was usable (which do not depend on the load): the plain lab's, a hub user's (forked
from the local hub's fork server, which imported the libraries once: its CPU is printed too).
Every spawned server is stopped through the hub's REST API at the end (cull).

    .venv/bin/python benchmarks/hub_login.py [-n 20]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import psutil

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.hub.client import HubError, login, stop_server, wait_for_lab
from jupyter_mlplat.hub.local import LocalHub
from jupyter_mlplat.infra.processes import Service, free_port
from jupyter_mlplat.platform.local import LocalPlatform

PASSWORD = "benchmark-password"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def cpu_seconds(process: psutil.Process) -> float:
    times = process.cpu_times()
    return float(times.user + times.system)


def server_cpu(home: Path) -> float:
    """CPU seconds so far of the server running in ``home`` (its working directory)."""
    total, home = 0.0, home.resolve()
    for process in psutil.process_iter():
        try:
            if Path(process.cwd()) == home:  # python, or jupyterhub-singleuser's script
                total += cpu_seconds(process)
        except (psutil.Error, OSError):
            continue
    return total


def plain_lab_start(base: Path, tracking_uri: str, number: int = 0) -> tuple[float, float]:
    """Seconds from launching ``jupyter lab`` to /lab and /api/status answering, and the CPU
    seconds the server used until then."""
    port, token = free_port(), "benchmark"
    home = base / f"plain-lab-{number}"
    home.mkdir()
    service = Service(
        "jupyterlab",
        [
            sys.executable, "-m", "jupyterlab", "--no-browser", "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={port}", f"--IdentityProvider.token={token}",
            f"--ServerApp.root_dir={home}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
        ],
        f"http://127.0.0.1:{port}/api/status?token={token}",
        base / "plain-lab.log",
        {"HOME": str(home), "MLP_TRACKING_URI": tracking_uri, "MLP_SPARK_MODE": "none"},
    )  # fmt: skip
    started = time.monotonic()
    service.start()
    try:
        service.wait_ready(180)
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/lab?token={token}") as page:
            page.read()
        seconds = time.monotonic() - started
        assert service.process is not None
        return seconds, cpu_seconds(psutil.Process(service.process.pid))
    finally:
        service.stop()


def hub_login(hub: LocalHub, user: str) -> tuple[float, float]:
    """Seconds from login to the lab usable, and the CPU seconds its server used until then."""
    started = time.monotonic()
    session = login(hub.url, user, PASSWORD)
    wait_for_lab(session, hub.url, user)
    seconds = time.monotonic() - started
    return seconds, server_cpu(hub.dir / "users" / user)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="users logging in one after another")
    parser.add_argument(
        "--baseline-every", type=int, default=1, help="a plain lab start next to every K-th user"
    )
    parser.add_argument(
        "--no-fork-server", action="store_true", help="every user's server a new process"
    )
    args = parser.parse_args()
    os.environ |= {"MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false"}
    with tempfile.TemporaryDirectory(prefix="mlplat-hub-bench-") as tmp:
        base = Path(tmp)
        config = MLPlat(env={"MLP_STATE_DIR": str(base / "state")})
        platform = LocalPlatform(config, notebook_dir=base, spark=False, lab=False)
        platform.start()
        users = ["cold"] + [f"user{i:02d}" for i in range(1, args.n + 1)]
        hub = LocalHub(
            config,
            tracking_uri=platform.tracking_uri,
            users=users,
            fork_server=not args.no_fork_server,
        )
        try:
            plain: dict[int, float] = {}
            plain_cpu: list[float] = []
            hub_cpu: list[float] = []

            def baseline_run(number: int) -> None:
                plain[number], cpu = plain_lab_start(base, platform.tracking_uri, number)
                plain_cpu.append(cpu)
                print(f"  plain lab start -> usable: {plain[number]:.2f} s ({cpu:.2f} s CPU)",
                      flush=True)  # fmt: skip

            baseline_run(0)
            hub_start = hub.start(password=PASSWORD)
            print(f"hub       JupyterHub + proxy ready: {hub_start:.2f} s", flush=True)
            cold, cpu = hub_login(hub, "cold")
            print(f"cold      login -> lab usable (first spawn): {cold:.2f} s ({cpu:.2f} s CPU)",
                  flush=True)  # fmt: skip
            if hub.fork_service is not None and hub.fork_service.process is not None:
                fork_cpu = cpu_seconds(psutil.Process(hub.fork_service.process.pid))
                print(f"fork      the fork server's imports (once): {fork_cpu:.2f} s CPU")
            times: dict[int, float] = {}
            failures = []
            for number, user in enumerate(users[1:], 1):
                paired = number % args.baseline_every == 0
                if paired and number % 2 == 0:  # alternate the order: drift cancels
                    baseline_run(number)
                try:
                    times[number], cpu = hub_login(hub, user)
                    hub_cpu.append(cpu)
                    print(f"  {user}: {times[number]:.2f} s ({cpu:.2f} s CPU)", flush=True)
                except (HubError, OSError) as err:
                    failures.append(f"{user}: {err}")
                if paired and number % 2 == 1:
                    baseline_run(number)
            baseline = statistics.median(plain.values())
            print(f"baseline  plain lab start -> usable, median of {len(plain)}: {baseline:.2f} s")
            print(
                f"cpu       server start -> usable, median CPU s: plain lab "
                f"{statistics.median(plain_cpu):.2f}, hub user "
                f"{statistics.median(hub_cpu) if hub_cpu else float('nan'):.2f}"
            )
            if times:
                median = statistics.median(times.values())
                print(
                    f"{args.n} users one after another: median {median:.2f} s, "
                    f"p95 {p95(list(times.values())):.2f} s, max {max(times.values()):.2f} s, "
                    f"failures {len(failures)}"
                )
                print(
                    f"ratio     hub login -> lab (median) / plain lab (median): "
                    f"{median / baseline:.2f} (goal <= 1.2)"
                )
                pairs = [times[n] / plain[n] for n in times if n in plain]
                if pairs:
                    print(
                        f"          median of {len(pairs)} paired ratios: "
                        f"{statistics.median(pairs):.2f}"
                    )
            for failure in failures:
                print(f"  FAILED {failure}")
            culled = time.monotonic()
            for user in users:
                stop_server(hub.url, hub.api_token, user)
            print(f"cull      {len(users)} servers stopped in {time.monotonic() - culled:.1f} s")
            return 1 if failures else 0
        finally:
            hub.stop()
            platform.stop()


if __name__ == "__main__":
    sys.exit(main())
