"""Spark in a fresh kernel: attach + first query through the platform ÷ a classic local session.

Both are measured in the same run, each in a fresh Python process (as a new kernel would be):

* platform: a Spark Connect client attaching to the platform's warm Connect server (no JVM in
  the process) and running a first query;
* baseline: ``SparkSession.builder.master("local[*]").getOrCreate()`` (starts a JVM) and the
  same query.

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

from jupyter_mlplat.platform.services import free_port
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
        timed(PLATFORM, env)  # warm the server (metastore, first plan)
        platform, classic = [], []
        for _ in range(args.n):
            platform.append(timed(PLATFORM, env))
            classic.append(timed(CLASSIC, env))
        p, c = statistics.median(platform), statistics.median(classic)
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
