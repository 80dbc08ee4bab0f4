"""P4, fast logging by default: a naive loop of 2,000 ``mlflow.log_metric`` calls in a platform
kernel ÷ the same loop with MLflow's defaults.

Both run the same cell in a real kernel against the same real MLflow server (the platform's
options): the platform kernel through ``mlplat-provisioner`` (async logging with buffering, as
every user gets it), the baseline through ``local-provisioner`` with only
``MLFLOW_TRACKING_URI`` set. The time runs from the first call until all 2,000 values are on the
server (read back with ``get_metric_history``), so buffering cannot hide work; a run whose
values did not all land is reported as lost. Interleaved repetitions; medians and the ratio
(goal: the platform kernel far below 1.0, nothing lost). Timings are reported, never asserted.

    .venv/bin/python benchmarks/log_metric.py [-n 3] [--calls 2000]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
from pathlib import Path
from typing import IO, Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import KernelProvisionerFactory

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.platform.local import LocalPlatform
from jupyter_mlplat.server.provisioner import PROVISIONER_NAME

MODES = {"platform": PROVISIONER_NAME, "defaults": "local-provisioner"}
CELL = """
import json, time, mlflow
from mlflow import MlflowClient
mlflow.set_experiment("p4-log-metric")
started = time.perf_counter()
with mlflow.start_run() as run:
    for i in range({calls}):
        mlflow.log_metric("loss", 1 / (i + 1), step=i)
landed = 0
while time.perf_counter() - started < 120:
    landed = len(MlflowClient().get_metric_history(run.info.run_id, "loss"))
    if landed >= {calls}:
        break
    time.sleep(0.05)
print(json.dumps({{"seconds": time.perf_counter() - started, "landed": landed}}))
"""


async def run_cell(provisioner: str, env: dict[str, str], log: IO[bytes], code: str) -> str:
    """Start a kernel through ``provisioner``, run ``code``, return its stdout, shut it down."""
    KernelProvisionerFactory.instance().default_provisioner_name = provisioner
    km = AsyncKernelManager(kernel_name="python3")
    await km.start_kernel(env=dict(env), stdout=log, stderr=log)
    kc = km.client()
    kc.start_channels()
    try:
        await kc.wait_for_ready(timeout=120)
        msg_id = kc.execute(code)
        out, error = "", ""
        while True:
            msg = await kc.get_iopub_msg(timeout=300)
            if msg["parent_header"].get("msg_id") != msg_id:
                continue
            kind, content = msg["msg_type"], msg["content"]
            if kind == "stream" and content["name"] == "stdout":
                out += content["text"]
            elif kind == "error":
                error = f"{content['ename']}: {content['evalue']}"
            elif kind == "status" and content["execution_state"] == "idle":
                break
        if error:
            raise RuntimeError(f"{provisioner}: {error}")
        return out
    finally:
        kc.stop_channels()
        await km.shutdown_kernel(now=False)  # a clean exit: the platform kernel flushes


async def measure(repetitions: int, calls: int, envs: dict[str, dict[str, str]], log: IO[bytes]):
    samples: dict[str, list[dict[str, Any]]] = {mode: [] for mode in MODES}
    for i in range(repetitions):
        for mode in list(MODES) if i % 2 == 0 else list(reversed(MODES)):
            out = await run_cell(MODES[mode], envs[mode], log, CELL.format(calls=calls))
            samples[mode].append(json.loads(out.strip().splitlines()[-1]))
            last = samples[mode][-1]
            print(
                f"  rep {i + 1}/{repetitions} {mode:9} {last['seconds']:7.2f} s  "
                f"landed {last['landed']}/{calls}",
                flush=True,
            )
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-n", "--repetitions", type=int, default=3)
    parser.add_argument("--calls", type=int, default=2000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="mlplat-bench-p4-") as tmp:
        notebooks = Path(tmp) / "notebooks"
        notebooks.mkdir()
        os.environ["MLP_STATE_DIR"] = str(Path(tmp) / "state")
        platform = LocalPlatform(MLPlat(), notebook_dir=notebooks)
        service = platform.mlflow_service()
        service.start()
        try:
            print(f"mlflow ready in {service.wait_ready(120):.1f} s at {platform.tracking_uri}")
            os.environ["MLP_TRACKING_URI"] = platform.tracking_uri  # read by the provisioner
            base = {k: v for k, v in os.environ.items() if not k.startswith("MLFLOW_")}
            envs = {
                "platform": base | {"JPY_SESSION_NAME": str(notebooks / "p4.ipynb")},
                "defaults": base | {"MLFLOW_TRACKING_URI": platform.tracking_uri},
            }
            with (Path(tmp) / "kernels.log").open("wb") as log:
                samples = asyncio.run(measure(args.repetitions, args.calls, envs, log))
        finally:
            service.stop()

    print(f"\n{args.calls} mlflow.log_metric calls until all are on the server")
    medians = {}
    for mode, runs in samples.items():
        medians[mode] = statistics.median(r["seconds"] for r in runs)
        lost = sum(args.calls - r["landed"] for r in runs)
        print(f"  {mode:9} median {medians[mode]:7.2f} s   values lost: {lost}")
    ratio = medians["platform"] / medians["defaults"]
    print(f"  platform kernel / MLflow defaults: {ratio:.3f} ({1 / ratio:.1f}x faster)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
