"""``%%mlp check`` ÷ raw great_expectations validation of the same expectations, same process.

great_expectations is imported (and each path warmed once) before anything is timed. Raw GX is
written as a user would: an ephemeral context, a data source, a dataframe asset and a batch
definition built once, then ``batch_definition.get_batch(...).validate(suite)`` per run. Timed:

* raw GX with the result format the platform uses (BASIC) and with GX's default (SUMMARY);
* ``jupyter_mlplat.quality.validate(df, expectations=..., log=False)`` (what the magic calls);
* ``%%mlp check df --no-log`` through an IPython ``InteractiveShell``.

Frames: a 1M-row pandas frame, a 1M-row classic local Spark frame (local[2], no server
needed) and, with ``--engines ...,connect``, a frame of a local Spark Connect server started
here. Two scenarios: every expectation passes (the platform's own cost), and one fails on
one row (the platform then also fetches a few failing rows, which raw GX does not).
Goal: magic / raw ≤ 1.10. Prints medians, minimums (steadier on a shared box) and their
ratios; asserts nothing.

    .venv/bin/python benchmarks/quality_check.py [-n 9] [--spark-n 5] [--rows 1000000]
        [--engines pandas,spark,connect]
"""

from __future__ import annotations

import argparse
import os
import statistics
import time
from collections.abc import Callable
from typing import Any

os.environ.setdefault("GX_ANALYTICS_ENABLED", "false")
os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")

#: The lowest amount allowed: -10 lets every expectation pass; 0 fails one row (amount -3), so
#: the platform also computes failing example rows (one extra query on Spark).
SCENARIOS = {"all pass": -10, "one expectation fails on one row": 0}


def checks(low: int) -> str:
    """The expectations in the short syntax of ``%%mlp check``."""
    return (
        f"order_id: not_null, unique\namount: between {low} 10000, mean between 100 400\n"
        "country: in [DE, FR, PL]\nrows: between 1000 1e7"
    )


def raw_gx(kind: str, frame: Any, low: int) -> dict[str, Callable[[], Any]]:
    """Raw GX built once, as a user writes it; returns per-run validations."""
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import (
        DataContextConfig,
        InMemoryStoreBackendDefaults,
        ProgressBarsConfig,
    )

    context = gx.get_context(
        mode="ephemeral",
        project_config=DataContextConfig(
            store_backend_defaults=InMemoryStoreBackendDefaults(),
            analytics_enabled=False,
            progress_bars=ProgressBarsConfig(globally=False),
        ),
    )
    sources = context.data_sources
    name = f"raw-{low}"
    source = sources.add_pandas(name) if kind == "pandas" else sources.add_spark(name)
    batch_definition = source.add_dataframe_asset("frame").add_batch_definition_whole_dataframe(
        "whole"
    )
    suite = gx.ExpectationSuite(name="raw")
    for expectation in [
        gxe.ExpectColumnValuesToNotBeNull(column="order_id"),
        gxe.ExpectColumnValuesToBeUnique(column="order_id"),
        gxe.ExpectColumnValuesToBeBetween(column="amount", min_value=low, max_value=10000),
        gxe.ExpectColumnMeanToBeBetween(column="amount", min_value=100, max_value=400),
        gxe.ExpectColumnValuesToBeInSet(column="country", value_set=["DE", "FR", "PL"]),
        gxe.ExpectTableRowCountToBeBetween(min_value=1000, max_value=10_000_000),
    ]:
        suite.add_expectation(expectation)

    def run(result_format: str | None) -> Callable[[], Any]:
        def validate() -> Any:
            batch = batch_definition.get_batch(batch_parameters={"dataframe": frame})
            if result_format is None:
                return batch.validate(suite)
            return batch.validate(suite, result_format=result_format)

        return validate

    return {"raw GX (BASIC)": run("BASIC"), "raw GX (default SUMMARY)": run(None)}


def platform(frame: Any, low: int) -> dict[str, Callable[[], Any]]:
    from IPython.testing.globalipapp import get_ipython

    from jupyter_mlplat import quality
    from jupyter_mlplat.config import MLPlat
    from jupyter_mlplat.kernel.magics import MLPMagics

    config = MLPlat(env={"MLP_USER": "bench"})
    shell = get_ipython()
    shell.register_magics(MLPMagics(shell, config=config))
    shell.user_ns["frame"] = frame
    body = checks(low)
    return {
        "quality.validate()": lambda: quality.validate(
            frame, expectations=body, log=False, config=config
        ),
        "%%mlp check": lambda: shell.run_cell_magic("mlp", "check frame --no-log", body),
    }


def pandas_frame(rows: int) -> Any:
    import numpy as np
    import pandas as pd

    rng = np.random.default_rng(0)
    frame = pd.DataFrame(
        {
            "order_id": np.arange(rows),
            "amount": rng.uniform(0, 500, rows).round(2),
            "country": rng.choice(["DE", "FR", "PL"], rows),
        }
    )
    frame.loc[7, "amount"] = -3.0  # one failing row: failing examples are computed
    return frame


def spark_frame(rows: int) -> tuple[Any, Any]:
    from pyspark.sql import SparkSession

    spark = (
        SparkSession.builder.master("local[2]")
        .config("spark.ui.enabled", "false")
        .config("spark.driver.bindAddress", "127.0.0.1")
        .config("spark.driver.host", "127.0.0.1")
        .config("spark.sql.shuffle.partitions", "4")
        .config("spark.ui.showConsoleProgress", "false")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    frame = spark.range(0, rows, 1, 4).selectExpr(
        "id as order_id",
        "case when id = 7 then -3.0 else round(rand(0) * 500, 2) end as amount",
        "element_at(array('DE', 'FR', 'PL'), cast(id % 3 as int) + 1) as country",
    )
    return spark, frame


def connect_frame(rows: int) -> tuple[Any, Any, Any]:
    """A Spark Connect session on a local Connect server started here, and the same frame."""
    import tempfile
    from pathlib import Path

    from pyspark.sql import SparkSession

    from jupyter_mlplat.infra.processes import free_port
    from jupyter_mlplat.spark.local_server import connect_server

    state = Path(tempfile.mkdtemp(prefix="mlplat-bench-quality-"))
    port = free_port()
    server = connect_server(state, port, free_port(), state / "spark.log")
    server.start()
    print(f"\nSpark Connect server ready in {server.wait_ready(300):.1f} s")
    os.environ["SPARK_REMOTE"] = f"sc://127.0.0.1:{port}"  # what raw GX's data source attaches to
    spark = SparkSession.builder.remote(os.environ["SPARK_REMOTE"]).getOrCreate()
    frame = spark.range(0, rows, 1, 4).selectExpr(
        "id as order_id",
        "case when id = 7 then -3.0 else round(rand(0) * 500, 2) end as amount",
        "element_at(array('DE', 'FR', 'PL'), cast(id % 3 as int) + 1) as country",
    )
    return server, spark, frame


def measure(paths: dict[str, Callable[[], Any]], repetitions: int) -> dict[str, list[float]]:
    """Interleaved runs (each path once per round), after one warm-up run of each."""
    for run in paths.values():
        run()
    times: dict[str, list[float]] = {name: [] for name in paths}
    for _ in range(repetitions):
        for name, run in paths.items():
            started = time.perf_counter()
            run()
            times[name].append(time.perf_counter() - started)
    return times


def report(title: str, times: dict[str, list[float]]) -> None:
    medians = {name: statistics.median(values) for name, values in times.items()}
    fastest = {name: min(values) for name, values in times.items()}
    print(f"\n{title}")
    for name, values in times.items():
        runs = ", ".join(f"{v:.3f}" for v in values)
        print(f"  {name:<26} median {medians[name]:.3f} s  min {fastest[name]:.3f} s  ({runs})")
    raw, raw_min = medians["raw GX (BASIC)"], fastest["raw GX (BASIC)"]
    for name in ("quality.validate()", "%%mlp check"):
        print(
            f"  ratio {name} / raw GX (BASIC): median {medians[name] / raw:.3f}, "
            f"min {fastest[name] / raw_min:.3f}  (goal <= 1.10)"
        )
    default = medians["raw GX (default SUMMARY)"]
    print(f"  ratio %%mlp check / raw GX (default SUMMARY): {medians['%%mlp check'] / default:.3f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", type=int, default=9, help="repetitions (pandas)")
    parser.add_argument("--spark-n", type=int, default=5, help="repetitions (Spark)")
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument(
        "--engines",
        default="pandas,spark",
        help="comma list of pandas, spark (classic local), connect (starts a local server)",
    )
    args = parser.parse_args()
    engines = set(args.engines.split(","))

    started = time.perf_counter()
    import great_expectations  # noqa: F401  (outside the timing: ~5 s)

    print(f"great_expectations imported in {time.perf_counter() - started:.1f} s (not timed)")
    if "pandas" in engines:
        frame = pandas_frame(args.rows)
        for scenario, low in SCENARIOS.items():
            paths = raw_gx("pandas", frame, low) | platform(frame, low)
            title = f"pandas, {args.rows:,} rows, 6 expectations, {scenario}"
            report(title, measure(paths, args.n))
    if "spark" in engines:
        spark, sframe = spark_frame(args.rows)
        try:
            for scenario, low in SCENARIOS.items():
                paths = raw_gx("spark", sframe, low) | platform(sframe, low)
                title = f"classic local Spark, {args.rows:,} rows, 6 expectations, {scenario}"
                report(title, measure(paths, args.spark_n))
        finally:
            spark.stop()
    if "connect" in engines:  # after classic: a Connect session switches pyspark's mode
        server, session, cframe = connect_frame(args.rows)
        try:
            for scenario, low in SCENARIOS.items():
                paths = raw_gx("spark", cframe, low) | platform(cframe, low)
                title = f"Spark Connect (local server), {args.rows:,} rows, {scenario}"
                report(title, measure(paths, args.spark_n))
        finally:
            session.stop()
            server.stop()


if __name__ == "__main__":
    main()
