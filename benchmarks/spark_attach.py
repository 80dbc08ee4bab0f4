"""Spark in a fresh kernel: attach + first query through the platform ÷ a classic local session.

Both are measured in the same run, each in a fresh Python process (as a new kernel would be):

* platform: a Spark Connect client attaching to the platform's warm Connect server (no JVM in
  the process) and running a first query;
* baseline: ``SparkSession.builder.master("local[*]").getOrCreate()`` (starts a JVM) and the
  same query;
* and, for the user's view, the first ``spark`` cell of a fresh platform kernel (attach + query,
  after a first cell: the kernel warms the Connect client in the background).

Goal: ratio ≤ 0.15. Prints medians and the ratio; asserts nothing.

    .venv/bin/python benchmarks/spark_attach.py [-n 5]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from jupyter_mlplat.infra.processes import free_port
from jupyter_mlplat.spark.local_server import connect_server, spark_home

QUERY = "spark.range(1000).selectExpr('sum(id)').collect()"

PLATFORM = f"""
import time
t = time.perf_counter()
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.spark.session import SparkSessions
spark = SparkSessions(MLPlat()).attach()
{QUERY}
print(time.perf_counter() - t)
"""

CLASSIC = f"""
import time
t = time.perf_counter()
from pyspark.sql import SparkSession
spark = (SparkSession.builder.master("local[*]")
         .config("spark.driver.bindAddress", "127.0.0.1").config("spark.driver.host", "127.0.0.1")
         .config("spark.ui.enabled", "false").getOrCreate())
{QUERY}
print(time.perf_counter() - t)
spark.stop()
"""


def timed(code: str, env: dict[str, str]) -> float:
    """Seconds the snippet reports, run in a fresh interpreter."""
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    return float(out.stdout.strip().splitlines()[-1])


KERNEL_CELL = f"""
import time
t = time.perf_counter()
{QUERY}
print(time.perf_counter() - t)
"""


def in_kernel(env: dict[str, str]) -> float:
    """In a fresh platform kernel: a first cell, a pause (the user reading), then ``spark``."""
    from jupyter_client.manager import KernelManager
    from jupyter_client.provisioning import KernelProvisionerFactory

    from jupyter_mlplat.server.provisioner import PROVISIONER_NAME

    KernelProvisionerFactory.instance().default_provisioner_name = PROVISIONER_NAME
    manager = KernelManager(kernel_name="python3")
    manager.start_kernel(env=env)
    client = manager.blocking_client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        client.execute_interactive("x = 1", timeout=60)
        time.sleep(5)
        out: list[str] = []

        def collect(message: dict) -> None:
            if message["msg_type"] == "stream" and message["content"]["name"] == "stdout":
                out.append(message["content"]["text"])
            elif message["msg_type"] == "error":
                raise RuntimeError(f"kernel cell failed: {message['content']['evalue']}")

        client.execute_interactive(KERNEL_CELL, timeout=120, output_hook=collect)
        return float("".join(out).strip().splitlines()[-1])
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=5, help="repetitions of each")
    args = parser.parse_args()
    state = Path(tempfile.mkdtemp(prefix="mlplat-bench-spark-"))
    port = free_port()
    server = connect_server(state, port, free_port(), state / "spark.log")
    server.start()
    try:
        print(f"Spark Connect server ready in {server.wait_ready(300):.1f} s; warming ...")
        env = {
            **os.environ,
            "MLP_SPARK_MODE": "local",
            "MLP_SPARK_REMOTE": f"sc://127.0.0.1:{port}",
        }
        env["SPARK_HOME"] = str(spark_home())
        os.environ.update(env)  # the provisioner reads the platform settings of this process
        timed(PLATFORM, env)  # warm the server (metastore, first plan)
        platform, classic, kernel = [], [], []
        for _ in range(args.n):
            platform.append(timed(PLATFORM, env))
            classic.append(timed(CLASSIC, env))
            kernel.append(in_kernel(env))
        p, c = statistics.median(platform), statistics.median(classic)
        k = statistics.median(kernel)
        print(f"in a platform kernel, first spark cell: median {k:.2f} s  (runs: {_fmt(kernel)})")
        print(f"platform attach + first query: median {p:.2f} s  (runs: {_fmt(platform)})")
        print(f"classic local getOrCreate + query: median {c:.2f} s  (runs: {_fmt(classic)})")
        print(f"ratio platform / classic: {p / c:.3f}  (goal <= 0.15)")
    finally:
        server.stop()
        time.sleep(0.5)


def _fmt(values: list[float]) -> str:
    return ", ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
