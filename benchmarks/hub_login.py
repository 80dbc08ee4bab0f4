"""Local hub: login -> JupyterLab usable, one cold spawn and N users one after another.

Starts its own MLflow (no Spark) and ``mlplat hub`` state in a temporary directory. "Usable"
means: the HTTP login went through, the spawn finished, the OAuth round trip to the user's
server succeeded, ``/lab`` loaded and ``/api/status`` answers through the hub (what the browser
needs before the launcher shows); the client follows the hub's spawn progress stream as the
browser's spawn-pending page does. Baseline of the same run: a plain ``jupyter lab`` (with the
extension) from launch to the same two answers, started next to every user's login (order
alternating; ``--baseline-every K``: next to every K-th), as the load of a shared machine drifts
and grows with the users' servers left running. Prints median / p95, failures, the ratio of the
medians (the goal) and the median of the per-pair ratios.
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

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.hub.client import HubError, login, stop_server, wait_for_lab
from jupyter_mlplat.hub.local import LocalHub
from jupyter_mlplat.infra.processes import Service, free_port
from jupyter_mlplat.platform.local import LocalPlatform

PASSWORD = "benchmark-password"


def p95(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]


def plain_lab_start(base: Path, tracking_uri: str, number: int = 0) -> float:
    """Seconds from launching ``jupyter lab`` to /lab and /api/status answering."""
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
        return time.monotonic() - started
    finally:
        service.stop()


def hub_login(hub: LocalHub, user: str) -> float:
    started = time.monotonic()
    session = login(hub.url, user, PASSWORD)
    wait_for_lab(session, hub.url, user)
    return time.monotonic() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=20, help="users logging in one after another")
    parser.add_argument(
        "--baseline-every", type=int, default=1, help="a plain lab start next to every K-th user"
    )
    args = parser.parse_args()
    os.environ |= {"MLFLOW_DISABLE_TELEMETRY": "true", "GX_ANALYTICS_ENABLED": "false"}
    with tempfile.TemporaryDirectory(prefix="mlplat-hub-bench-") as tmp:
        base = Path(tmp)
        config = MLPlat(env={"MLP_STATE_DIR": str(base / "state")})
        platform = LocalPlatform(config, notebook_dir=base, spark=False, lab=False)
        platform.start()
        users = ["cold"] + [f"user{i:02d}" for i in range(1, args.n + 1)]
        hub = LocalHub(config, tracking_uri=platform.tracking_uri, users=users)
        try:
            plain: dict[int, float] = {}

            def baseline_run(number: int) -> None:
                plain[number] = plain_lab_start(base, platform.tracking_uri, number)
                print(f"  plain lab start -> usable: {plain[number]:.2f} s", flush=True)

            baseline_run(0)
            hub_start = hub.start(password=PASSWORD)
            print(f"hub       JupyterHub + proxy ready: {hub_start:.2f} s", flush=True)
            cold = hub_login(hub, "cold")
            print(f"cold      login -> lab usable (first spawn): {cold:.2f} s", flush=True)
            times: dict[int, float] = {}
            failures = []
            for number, user in enumerate(users[1:], 1):
                paired = number % args.baseline_every == 0
                if paired and number % 2 == 0:  # alternate the order: drift cancels
                    baseline_run(number)
                try:
                    times[number] = hub_login(hub, user)
                    print(f"  {user}: {times[number]:.2f} s", flush=True)
                except (HubError, OSError) as err:
                    failures.append(f"{user}: {err}")
                if paired and number % 2 == 1:
                    baseline_run(number)
            baseline = statistics.median(plain.values())
            print(f"baseline  plain lab start -> usable, median of {len(plain)}: {baseline:.2f} s")
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
