"""Kernel start cost of the platform extension: ``mlplat-provisioner`` vs ``local-provisioner``.

Measures the time from the kernel launch request to the first ``execute_reply`` of ``1+1``, for
the same ``python3`` kernelspec started through both provisioners, interleaved to cancel drift.
Prints per-mode median / p90, the ratio of medians (goal: <= 1.10) and, as a drift-robust
cross-check, the median of the per-repetition ratios. Timings are reported, never asserted.
Kernel output goes to a log file whose tail is printed if a kernel fails.

Whether ``%mlp`` is registered is read from the ``execute_reply`` (a user expression), not from
stdout: IOPub is a PUB/SUB channel, and a client that has just connected may not be subscribed
yet when the kernel publishes (jupyter_client#593), so its output can be lost. The package is
byte-compiled first, as an installed one is: with ``PYTHONDONTWRITEBYTECODE`` set, an editable
checkout would otherwise recompile its modules at every kernel start.

    .venv/bin/python benchmarks/kernel_start.py [-n 20] [--no-mlflow]
"""

from __future__ import annotations

import argparse
import asyncio
import compileall
import os
import signal
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import IO, Any

from jupyter_client.manager import AsyncKernelManager
from jupyter_client.provisioning import KernelProvisionerFactory

import jupyter_mlplat
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.infra.processes import Service
from jupyter_mlplat.platform.local import LocalPlatform
from jupyter_mlplat.server.provisioner import PROVISIONER_NAME

KERNEL = "python3"
MODES = {"with": PROVISIONER_NAME, "without": "local-provisioner"}
#: A user expression, evaluated after the cell and returned in its ``execute_reply``.
CHECK = "get_ipython().find_magic('mlp') is not None"


async def start_and_execute(
    provisioner: str, env: dict[str, str], log: IO[bytes], check: bool = False
) -> tuple[float, str]:
    """Seconds from ``start_kernel`` to the ``execute_reply`` of ``1+1``; optional check output."""
    KernelProvisionerFactory.instance().default_provisioner_name = provisioner
    km = AsyncKernelManager(kernel_name=KERNEL)
    kc = None
    try:
        start = time.perf_counter()
        await km.start_kernel(env=dict(env), stdout=log, stderr=log)
        kc = km.client()
        kc.start_channels()
        msg_id = kc.execute("1+1")
        while True:
            reply = await kc.get_shell_msg(timeout=120)
            if reply["parent_header"].get("msg_id") == msg_id:
                break
        elapsed = time.perf_counter() - start
        if reply["content"]["status"] != "ok":
            raise RuntimeError(f"1+1 failed with {provisioner}: {reply['content']}")
        output = await expression(kc, CHECK) if check else ""
        return elapsed, output
    finally:
        if kc is not None:
            kc.stop_channels()
        if km.has_kernel:
            await km.shutdown_kernel(now=True)


async def expression(kc: Any, code: str) -> str:
    """The value (``text/plain``) of the user expression ``code``, from the execute reply."""
    msg_id = kc.execute("", silent=True, user_expressions={"check": code})
    while True:
        reply = await kc.get_shell_msg(timeout=60)
        if reply["parent_header"].get("msg_id") == msg_id:
            break
    result = reply["content"]["user_expressions"]["check"]
    if result.get("status") != "ok":
        raise RuntimeError(f"{code!r} failed: {result.get('ename')}: {result.get('evalue')}")
    return str(result["data"]["text/plain"])


def summary(samples: list[float]) -> tuple[float, float]:
    """Median and p90 (inclusive quantile) of ``samples``."""
    if len(samples) == 1:
        return samples[0], samples[0]
    return statistics.median(samples), statistics.quantiles(samples, n=10, method="inclusive")[-1]


async def timed_start(mode: str, env: dict[str, str], log: IO[bytes]) -> float:
    """One timed start; fails unless ``%mlp`` is registered exactly in the ``with`` mode."""
    elapsed, loaded = await start_and_execute(MODES[mode], env, log, check=True)
    expected = "True" if mode == "with" else "False"
    if loaded != expected:
        raise RuntimeError(f"mode {mode!r}: %mlp registered = {loaded!r}, want {expected}")
    return elapsed


async def run(repetitions: int, env: dict[str, str], log: IO[bytes]) -> dict[str, list[float]]:
    """Warm up both modes, then time them interleaved; every kernel's extension state is
    checked (after its timed reply)."""
    for mode in MODES:
        await timed_start(mode, env, log)
    samples: dict[str, list[float]] = {mode: [] for mode in MODES}
    for i in range(repetitions):
        order = list(MODES) if i % 2 == 0 else list(reversed(MODES))
        for mode in order:
            samples[mode].append(await timed_start(mode, env, log))
        print(
            f"  rep {i + 1:2d}/{repetitions}: with {samples['with'][-1]:.3f} s, "
            f"without {samples['without'][-1]:.3f} s",
            flush=True,
        )
    return samples


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    # a start is ~0.3 s and moves by ~0.05 s between starts: at 10 pairs the ratio of medians
    # moved 0.97-1.14 between three back-to-back runs of the same code, at 20 by half as much
    parser.add_argument("-n", "--repetitions", type=int, default=20)
    parser.add_argument(
        "--no-mlflow",
        action="store_true",
        help="do not start an MLflow server; point the kernels at an unused URL instead",
    )
    args = parser.parse_args()
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    compileall.compile_dir(Path(jupyter_mlplat.__file__).parent, quiet=1)

    with tempfile.TemporaryDirectory(prefix="mlplat-bench-kernel-") as tmp:
        state = Path(tmp) / "state"
        notebooks = Path(tmp) / "notebooks"
        notebooks.mkdir()
        os.environ["MLP_STATE_DIR"] = str(state)
        platform = LocalPlatform(MLPlat(), notebook_dir=notebooks)
        service: Service | None = None
        try:
            if args.no_mlflow:
                tracking_uri = platform.tracking_uri  # a free port: nothing listens there
            else:
                service = platform.mlflow_service()
                service.start()
                print(f"mlflow ready in {service.wait_ready(120):.1f} s at {platform.tracking_uri}")
                tracking_uri = platform.tracking_uri
            # the provisioner reads MLPlat from this process's env, as the lab server does
            os.environ["MLP_TRACKING_URI"] = tracking_uri
            env = dict(os.environ) | {"JPY_SESSION_NAME": str(notebooks / "bench.ipynb")}
            with (Path(tmp) / "kernels.log").open("wb") as log:
                samples = asyncio.run(run(args.repetitions, env, log))
        except BaseException:
            kernel_log = Path(tmp) / "kernels.log"
            if kernel_log.exists():
                tail = kernel_log.read_text(errors="replace").splitlines()[-20:]
                print("kernel log (tail):", *tail, sep="\n  ", file=sys.stderr)
            raise
        finally:
            if service is not None:
                service.stop()

    print(f"\nkernel start -> first execute_reply of 1+1, {args.repetitions} reps each")
    print(f"  %mlp registered in all {args.repetitions + 1} 'with' kernels, in no 'without' one")
    for mode, provisioner in MODES.items():
        median, p90 = summary(samples[mode])
        print(f"  {mode:8} ({provisioner:18}) median {median:.3f} s  p90 {p90:.3f} s")
    ratio = statistics.median(samples["with"]) / statistics.median(samples["without"])
    pairs = zip(samples["with"], samples["without"], strict=True)
    paired = statistics.median([w / o for w, o in pairs])
    print(f"  ratio of medians with/without: {ratio:.3f} (goal <= 1.10)")
    print(f"  median of per-rep ratios:      {paired:.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
