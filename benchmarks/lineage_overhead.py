"""Lineage capture's cost per Spark action: capture on ÷ capture off, inside an MLflow run.

Two Spark Connect sessions to the platform's server, one with the lineage capture installed (as
every kernel has it) and one without, run the same small action on ``demo.iris`` (a count and a
``limit(5).collect()``) in alternating rounds; each action is timed, the medians compared.
Also timed: the capture's own work on the user's thread (the hook reading the plan and the
progress handler handing the operation over), which is what an action really waits for; the
digest and the MLflow record are made on a background thread (once per run and table, again
after ``MLP_LINEAGE_RECHECK_SECONDS`` or a write).

Goals: ≤ 5 ms and ≤ 2 % per action. Prints medians and ratios; asserts nothing. Needs a running
platform (``mlplat up``):

    .venv/bin/python benchmarks/lineage_overhead.py [--state-dir DIR] [-n 200]
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import time
from pathlib import Path

from jupyter_mlplat.config import MLPlat

ACTIONS = {
    "count": lambda spark: spark.table("demo.iris").count(),
    "collect": lambda spark: spark.table("demo.iris").limit(5).collect(),
}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--state-dir", default=str(MLPlat(env={}).resolved_state_dir))
    parser.add_argument("-n", type=int, default=200, help="actions per kind and side")
    args = parser.parse_args()
    runtime = json.loads((Path(args.state_dir) / "platform.json").read_text())
    os.environ["MLFLOW_TRACKING_URI"] = runtime["tracking_uri"]
    env = {"MLP_SPARK_REMOTE": runtime["spark_remote"], "MLP_TRACKING_URI": runtime["tracking_uri"]}

    import mlflow

    from jupyter_mlplat.lineage.capture import LineageCapture
    from jupyter_mlplat.spark.session import SparkSessions

    config = MLPlat(env=env, lineage_dir=str(Path(args.state_dir) / "lineage-benchmark"))
    capture = LineageCapture(config, job="benchmark")
    plain = SparkSessions(config).attach()
    hooked = SparkSessions(config, extensions=[capture]).attach()
    mlflow.set_experiment("lineage-overhead-benchmark")

    with mlflow.start_run():
        for spark in (plain, hooked):  # warm both sessions and record the table once
            for action in ACTIONS.values():
                action(spark)
        capture.flush()
        for kind, action in ACTIONS.items():
            times: dict[str, list[float]] = {"off": [], "on": []}
            differences = []
            for i in range(args.n):
                # pairs, alternating which side goes first: the box's drift cancels out
                sides = [("off", plain), ("on", hooked)]
                pair = {}
                for side, spark in sides if i % 2 else sides[::-1]:
                    started = time.perf_counter()
                    action(spark)
                    pair[side] = time.perf_counter() - started
                    times[side].append(pair[side])
                differences.append(pair["on"] - pair["off"])
            off, on = statistics.median(times["off"]), statistics.median(times["on"])
            paired = statistics.median(differences)
            print(
                f"{kind:8s} off {off * 1000:7.2f} ms   on {on * 1000:7.2f} ms   "
                f"paired difference {paired * 1000:+6.2f} ms   ratio {(off + paired) / off:.3f}   "
                f"(n={args.n} pairs, medians; goal ≤ 5 ms and ≤ 1.02)"
            )
        thread_cost(capture, hooked)
    capture.flush()


def thread_cost(capture: object, spark: object) -> None:
    """What the capture does on the user's thread per action, timed alone."""
    from pyspark.sql.connect.proto import base_pb2

    from jupyter_mlplat.lineage.capture import LineageCapture

    assert isinstance(capture, LineageCapture)
    frame = spark.table("demo.iris").groupBy("species").count()  # type: ignore[attr-defined]
    plan = frame._plan.to_proto(spark._client)  # type: ignore[attr-defined]
    request = base_pb2.ExecutePlanRequest(plan=plan)
    record = capture._record
    capture._record = lambda action: None  # type: ignore[method-assign]  # the thread's part
    samples = []
    for i in range(2000):
        request.operation_id = f"op-{i}"
        started = time.perf_counter()
        capture.on_plan(spark, request)
        capture.progress(operation_id=request.operation_id, done=True)
        samples.append(time.perf_counter() - started)
    capture.flush()
    capture._record = record  # type: ignore[method-assign]
    print(
        f"on the user's thread: hook + hand-over {statistics.median(samples) * 1e6:.0f} µs median, "
        f"{sorted(samples)[int(len(samples) * 0.95)] * 1e6:.0f} µs p95 per action"
    )


if __name__ == "__main__":
    main()
