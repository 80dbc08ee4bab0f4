"""``mlplat``: run the whole platform on this machine.

mlplat up       start MLflow and JupyterLab (Ctrl-C stops everything it started)
mlplat status   show what is running
mlplat stop     stop a running platform
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import sys
import threading
import time
from pathlib import Path

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.platform.local import LocalPlatform, read_runtime
from jupyter_mlplat.platform.services import ServiceError
from jupyter_mlplat.tracking.health import probe


def _config(args: argparse.Namespace) -> MLPlat:
    config = MLPlat()
    if args.state_dir:
        config.state_dir = str(Path(args.state_dir).resolve())
    return config


def up(args: argparse.Namespace) -> int:
    """Start the platform and wait for Ctrl-C / SIGTERM."""
    config = _config(args)
    platform = LocalPlatform(
        config,
        notebook_dir=Path(args.notebook_dir).resolve(),
        lab_port=args.port,
        mlflow_port=args.mlflow_port,
        lab_args=args.lab_args,
        spark=not args.no_spark,
    )
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    print(f"mlplat: starting under {platform.layout.root} ...", flush=True)
    try:
        runtime = platform.start()
    except ServiceError as err:
        print(f"mlplat: {err}", file=sys.stderr)
        return 1
    print(
        "\n".join(
            [
                "mlplat: the platform is up",
                f"  JupyterLab  {runtime['lab_url']}",
                f"  MLflow      {runtime['tracking_uri']}  (in the lab: ML Platform > MLflow UI)",
                f"  Spark       {runtime['spark_remote'] or 'off'}",
                f"  state       {runtime['state_dir']}",
                "  Ctrl-C stops everything.",
            ]
        ),
        flush=True,
    )
    try:
        while not stopping.wait(1):
            try:
                for note in platform.supervise():
                    print(f"mlplat: {note}", flush=True)
            except ServiceError as err:
                print(f"mlplat: {err}", file=sys.stderr, flush=True)
                stopping.set()
    finally:
        print("mlplat: stopping ...", flush=True)
        platform.stop()
        print("mlplat: stopped", flush=True)
    return 0


def status(args: argparse.Namespace) -> int:
    """Print the running platform's URLs (JSON with --json)."""
    runtime = read_runtime(_config(args).resolved_state_dir)
    if runtime is None:
        print("mlplat: not running")
        return 1
    runtime["tracking_reachable"] = probe(runtime["tracking_uri"]).ok
    if args.json:
        print(json.dumps(runtime, indent=2))
    else:
        for key in ("lab_url", "tracking_uri", "tracking_reachable", "state_dir", "pid"):
            print(f"{key:20} {runtime[key]}")
    return 0


def stop(args: argparse.Namespace) -> int:
    """Send SIGTERM to a running ``mlplat up`` and wait until it is gone."""
    state_dir = _config(args).resolved_state_dir
    runtime = read_runtime(state_dir)
    if runtime is None:
        print("mlplat: not running")
        return 0
    try:
        os.kill(runtime["pid"], signal.SIGTERM)
    except ProcessLookupError:
        (state_dir / "platform.json").unlink(missing_ok=True)
        return 0
    for _ in range(300):
        if read_runtime(state_dir) is None:
            print("mlplat: stopped")
            return 0
        time.sleep(0.1)
    print("mlplat: still stopping", file=sys.stderr)
    return 1


def parser() -> argparse.ArgumentParser:
    """The ``mlplat`` command line."""
    root = argparse.ArgumentParser(prog="mlplat", description=__doc__.split("\n\n")[0])
    root.add_argument(
        "--state-dir",
        help="state directory (default: $MLP_STATE_DIR or ~/.local/share/jupyter-mlplat)",
    )
    sub = root.add_subparsers(dest="command", required=True)
    p_up = sub.add_parser("up", help="start the local platform")
    p_up.add_argument("--notebook-dir", default=".", help="JupyterLab's root directory")
    p_up.add_argument("--port", type=int, default=0, help="JupyterLab port (default: free)")
    p_up.add_argument("--mlflow-port", type=int, default=0, help="MLflow port (default: free)")
    p_up.add_argument("--no-spark", action="store_true", help="do not start Spark Connect")
    p_up.add_argument("lab_args", nargs="*", help="extra JupyterLab options (after --)")
    p_up.set_defaults(run=up)
    p_status = sub.add_parser("status", help="show the running platform")
    p_status.add_argument("--json", action="store_true")
    p_status.set_defaults(run=status)
    sub.add_parser("stop", help="stop the running platform").set_defaults(run=stop)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mlplat``."""
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
