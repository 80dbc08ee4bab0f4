"""Catalog completion latency with 100k tables in the index, as the kernel's completer sees it.

Builds a synthetic catalog (the generator of ``catalog_search.py``: 100,000 tables in 50
databases, one table in four with columns) with the real index code into a temporary state
directory, starts a Jupyter server with the extension on it (no Spark, no MLflow: completion
reads only the index), and drives the kernel side of completion against it: the context parser,
the cache and the REST routes with the kernel's token over its kept-alive connection. The
completer's timeout is raised to 10 s so that a slow answer is measured, not cut at 200 ms.

Three measurements, in ms:

* keystrokes: typing ``spark.table("db.name`` one character at a time for sampled tables,
  then ``spark.sql("SELECT <col…> FROM db.name`` column prefixes, with the kernel's cache as in
  use (30 s TTL): what a user waits for on Tab after each character;
* misses: the same lookups with an empty cache every time (one REST round trip each);
* index: ``CatalogIndex.complete`` / ``columns_of`` alone, in this process.

Prints p50 / p95 / p99 of each and the goal (keystroke p95 <= 20 ms). Reported, never asserted.

    .venv/bin/python benchmarks/completion.py [--tables 100000] [--samples 60]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from catalog_search import build, percentile  # the same synthetic catalog

from jupyter_mlplat.catalog.index import CatalogIndex
from jupyter_mlplat.infra.processes import Service, free_port
from jupyter_mlplat.kernel.completion import CatalogNames, completions, platform_fetch
from jupyter_mlplat.kernel.completion_context import catalog_context

SEED = 13
TOKEN = "completion-benchmark"  # a throwaway server's
GOAL_MS = 20.0


def start_server(state: Path, base: Path) -> tuple[Service, str]:
    """A Jupyter server with the extension over ``state``; its URL."""
    port = free_port()
    env = {
        "MLP_STATE_DIR": str(state),
        "MLP_CATALOG_REFRESH_SECONDS": "0",
        "JUPYTER_CONFIG_DIR": str(base / "config"),
        "JUPYTER_DATA_DIR": str(base / "data"),
        "JUPYTER_RUNTIME_DIR": str(base / "runtime"),
        "MLFLOW_DISABLE_TELEMETRY": "true",
    }
    command = [
        sys.executable, "-m", "jupyter_server",
        "--no-browser",
        "--ServerApp.ip=127.0.0.1",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.root_dir={base}",
        f"--IdentityProvider.token={TOKEN}",
        *(["--allow-root"] if os.geteuid() == 0 else []),
    ]  # fmt: skip
    url = f"http://127.0.0.1:{port}"
    server = Service(
        "jupyter", command, f"{url}/api/status?token={TOKEN}", base / "server.log", env
    )
    server.start()
    server.wait_ready(120)
    return server, url


def kernel_token(base: Path) -> str:
    """The scoped token the server wrote for its kernels."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        files = list((base / "runtime").glob("mlplat-kernel-api-*.token"))
        if files:
            return files[0].read_text().strip()
        time.sleep(0.1)
    raise RuntimeError("the server wrote no kernel token")


def keystrokes(index: CatalogIndex, samples: int) -> list[tuple[str, int]]:
    """Cells and cursors: each sampled table typed out, then prefixes of its columns."""
    rng = random.Random(SEED)
    databases = [d["name"] for d in index.databases()]
    cells: list[tuple[str, int]] = []
    for database in rng.sample(databases, min(samples, len(databases))):
        tables = index.tables(database)
        described = [t for t in tables if t.columns]
        table = rng.choice(described or tables)
        head = 'spark.table("'
        for end in range(1, len(table.qualified_name) + 1):
            code = head + table.qualified_name[:end]
            cells.append((code, len(code)))
        for column in rng.sample(table.columns, min(3, len(table.columns))):
            head = 'spark.sql("SELECT '
            tail = f' FROM {table.qualified_name}")'
            for end in range(0, min(len(column.name), 6) + 1):
                code = head + column.name[:end]
                cells.append((code + tail, len(code)))
    return cells


def time_lookups(cells: list[tuple[str, int]], names: Callable[[], CatalogNames]) -> list[float]:
    """Milliseconds per completion: parse the cell, look the names up (``names()`` each time)."""
    timings: list[float] = []
    for code, cursor in cells:
        started = time.perf_counter()
        context = catalog_context(code, cursor)
        assert context is not None, code
        found = completions(names(), context)
        timings.append((time.perf_counter() - started) * 1000)
        assert found or context.prefix == "", (code, cursor)
    return timings


def time_index(index: CatalogIndex, cells: list[tuple[str, int]]) -> list[float]:
    """Milliseconds per index lookup (in this process) for the same contexts."""
    timings: list[float] = []
    for code, cursor in cells:
        context = catalog_context(code, cursor)
        assert context is not None
        started = time.perf_counter()
        if context.kind == "table":
            index.complete(context.prefix, 200)
        else:
            for table in context.tables:
                index.columns_of(table)
        timings.append((time.perf_counter() - started) * 1000)
    return timings


def line(label: str, samples: list[float]) -> str:
    return (
        f"  {label:<34} {len(samples):>5} {percentile(samples, 50):>8.2f} "
        f"{percentile(samples, 95):>8.2f} {percentile(samples, 99):>8.2f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tables", type=int, default=100_000, help="tables in the index")
    parser.add_argument("--samples", type=int, default=60, help="tables typed out")
    args = parser.parse_args()
    print(f"Python {sys.version.split()[0]}, {os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}")
    with tempfile.TemporaryDirectory(prefix="completion-bench-") as directory:
        base = Path(directory)
        path = base / "state" / "catalog" / "index.sqlite"
        index = CatalogIndex(path)
        seconds = build(index, args.tables)
        databases = len(index.databases())
        print(f"index: {index.count():,} tables in {databases} databases, built in {seconds:.0f} s")
        cells = keystrokes(index, args.samples)
        server, url = start_server(base / "state", base)
        try:
            kernel_fetch = platform_fetch(url, kernel_token(base))  # as the kernel asks
            requests: list[str] = []

            def fetch(path: str) -> Any:
                requests.append(path)
                return kernel_fetch(path)

            shared = CatalogNames(fetch, timeout=10)
            time_lookups(cells[:20], lambda: CatalogNames(fetch, timeout=10))  # warm-up
            requests.clear()
            typed = time_lookups(cells, lambda: shared)
            sent = len(requests)
            misses = time_lookups(cells, lambda: CatalogNames(fetch, timeout=10))
            looked_up = time_index(index, cells)
        finally:
            server.stop()
            index.close()
    print(f"\n{len(cells)} completions; ms          {'n':>5} {'p50':>8} {'p95':>8} {'p99':>8}")
    print(line("keystrokes (kernel cache in use)", typed))
    print(f"    ({sent} of the {len(cells)} keystrokes asked the server, the rest the cache)")
    print(line("cache misses (REST round trip)", misses))
    print(line("index lookup alone", looked_up))
    p95 = percentile(typed, 95)
    verdict = "met" if p95 <= GOAL_MS else "NOT met"
    print(f"\nkeystroke p95 at {args.tables:,} tables: {p95:.2f} ms (goal <= {GOAL_MS:.0f} ms)")
    print(f"goal {verdict}; load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} CPUs")


if __name__ == "__main__":
    main()
