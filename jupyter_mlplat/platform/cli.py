"""``mlplat``: run the whole platform on this machine.

mlplat up       start MLflow and JupyterLab (Ctrl-C stops everything it started)
mlplat hub      start MLflow, Spark and a local multi-user JupyterHub
mlplat status   show what is running
mlplat stop     stop a running platform
mlplat serving-env  build the local model servers' environment ahead of the first deploy
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
from jupyter_mlplat.infra.processes import ServiceError
from jupyter_mlplat.platform.local import LocalPlatform, read_runtime
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
        pipelines=not args.no_pipelines,
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
                f"  Pipelines   {platform.pipelines_dir} (Airflow starts when it has a DAG file)"
                if platform.pipelines
                else "  Pipelines   off",
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
        _stop_model_servers(config)
        print("mlplat: stopped", flush=True)
    return 0


def _stop_model_servers(config: MLPlat) -> None:
    # model servers outlive Jupyter restarts, not the platform; the next `up` restarts them
    from jupyter_mlplat.deploy.local import stop_model_servers

    count = stop_model_servers(config.resolved_state_dir)
    if count:
        print(f"mlplat: stopped {count} local model server(s)", flush=True)


def serving_env(args: argparse.Namespace) -> int:
    """Build the local model servers' environment now (else the first deploy builds it)."""
    from jupyter_mlplat.deploy.local import build_serving_env
    from jupyter_mlplat.errors import MLPlatError

    try:
        print(
            f"mlplat: serving environment ready: {build_serving_env(_config(args)).parent.parent}"
        )
    except MLPlatError as err:
        print(f"mlplat: {err}", file=sys.stderr)
        return 1
    return 0


def hub(args: argparse.Namespace) -> int:
    """Start a local multi-user JupyterHub on the platform's MLflow and Spark (or on the ones
    given with --tracking-uri/--spark-remote) and wait for Ctrl-C / SIGTERM."""
    from jupyter_mlplat.hub.local import LocalHub

    config = _config(args)
    stopping = threading.Event()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: stopping.set())
    platform = None
    if args.tracking_uri:
        services = {"tracking_uri": args.tracking_uri, "spark_remote": args.spark_remote or ""}
    else:
        platform = LocalPlatform(
            config, notebook_dir=Path.cwd(), spark=not args.no_spark, lab=False
        )
        print(f"mlplat: starting MLflow and Spark under {platform.layout.root} ...", flush=True)
        try:
            runtime = platform.start()
        except ServiceError as err:
            print(f"mlplat: {err}", file=sys.stderr)
            return 1
        services = {
            "tracking_uri": runtime["tracking_uri"],
            "spark_remote": runtime["spark_remote"],
            "spark_ui_url": "" if args.no_spark else f"http://127.0.0.1:{platform.spark_ui_port}",
            "artifacts_destination": platform.layout.artifacts.as_uri(),
        }
    users = [u.strip() for u in (args.users or "").split(",") if u.strip()]
    local_hub = LocalHub(config, port=args.port, users=users, **services)
    try:
        try:
            local_hub.start(password=os.environ.get("MLPLAT_HUB_PASSWORD", ""))
        except ServiceError as err:
            print(f"mlplat: {err}", file=sys.stderr)
            return 1
        print(
            "\n".join(
                [
                    "mlplat: the hub is up",
                    f"  JupyterHub  {local_hub.url}/hub/login",
                    f"  users       {', '.join(users) or 'anyone (allow_all)'}",
                    f"  password    in {local_hub.dir / 'password'}",
                    f"  MLflow      {services['tracking_uri']}",
                    f"  Spark       {services['spark_remote'] or 'off'}",
                    "  Ctrl-C stops everything.",
                ]
            ),
            flush=True,
        )
        while not stopping.wait(1):
            failure = local_hub.failure()
            if failure:
                print(f"mlplat: {failure}", file=sys.stderr)
                return 1
            if platform is not None:
                for note in platform.supervise():
                    print(f"mlplat: {note}", flush=True)
    finally:
        print("mlplat: stopping ...", flush=True)
        local_hub.stop()
        if platform is not None:
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
        runtime.setdefault("airflow_url", "")
        keys = ("lab_url", "tracking_uri", "tracking_reachable", "airflow_url", "state_dir", "pid")
        for key in keys:
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
    p_up.add_argument(
        "--no-pipelines",
        action="store_true",
        help="never start the embedded Airflow (by default it starts once the project's "
        "pipelines folder has a DAG file)",
    )
    p_up.add_argument("lab_args", nargs="*", help="extra JupyterLab options (after --)")
    p_up.set_defaults(run=up)
    p_hub = sub.add_parser("hub", help="start a local multi-user JupyterHub")
    p_hub.add_argument("--port", type=int, default=8000, help="hub port (default: 8000)")
    p_hub.add_argument(
        "--users", default="", help="comma-separated user names allowed to log in (default: any)"
    )
    p_hub.add_argument("--no-spark", action="store_true", help="do not start Spark Connect")
    p_hub.add_argument("--tracking-uri", help="use this MLflow server instead of starting one")
    p_hub.add_argument("--spark-remote", help="with --tracking-uri: this Spark Connect server")
    p_hub.set_defaults(run=hub)
    p_status = sub.add_parser("status", help="show the running platform")
    p_status.add_argument("--json", action="store_true")
    p_status.set_defaults(run=status)
    sub.add_parser("stop", help="stop the running platform").set_defaults(run=stop)
    sub.add_parser(
        "serving-env", help="build the local model servers' environment (MLServer)"
    ).set_defaults(run=serving_env)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mlplat``."""
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
