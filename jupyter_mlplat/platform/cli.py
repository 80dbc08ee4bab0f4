"""``mlplat``: run the whole platform on this machine.

mlplat up           MLflow, Spark Connect (with a demo database) and JupyterLab
mlplat hub          MLflow, Spark and a local multi-user JupyterHub (the ``hub`` extra)
mlplat status       what is running, where
mlplat stop         stop what ``mlplat up`` / ``mlplat hub`` started
mlplat serving-env  build the local model servers' environment ahead of the first deploy
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import os
import signal
import sys
import textwrap
import threading
import time
from pathlib import Path

from jupyter_mlplat._version import __version__
from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.infra.processes import ServiceError
from jupyter_mlplat.platform.console import Console
from jupyter_mlplat.platform.local import LocalPlatform, read_runtime
from jupyter_mlplat.tracking.health import probe

HUB_EXTRA = "mlplat hub needs the hub extra: pip install 'jupyter-mlplat[hub]'"


def _config(args: argparse.Namespace) -> MLPlat:
    config = MLPlat()
    if args.state_dir:
        config.state_dir = str(Path(args.state_dir).resolve())
    return config


def _interrupt(*_: object) -> None:
    raise KeyboardInterrupt


def _on_signals(handler: object) -> None:
    """Ctrl-C and SIGTERM (``mlplat stop``) go to ``handler``."""
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, handler)  # type: ignore[arg-type]


def _stop_when_signalled() -> threading.Event:
    """Once up: a signal sets the event; the main loop then stops everything in order."""
    stopping = threading.Event()
    _on_signals(lambda *_: stopping.set())
    return stopping


INTERRUPTED = "mlplat: interrupted while starting; stopped what had started"


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
    print(f"mlplat: starting under {platform.layout.root} ...", flush=True)
    console = Console()
    _on_signals(_interrupt)  # while starting: stop at once (start() stops what it started)
    try:
        runtime = platform.start(on_ready=console.ready, on_step=console.step)
    except ServiceError as err:
        console.finish()
        print(f"mlplat: {err}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        console.finish()
        print(INTERRUPTED, flush=True)
        return 130
    stopping = _stop_when_signalled()
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

    console = Console()
    started = time.monotonic()
    try:
        mlserver = build_serving_env(_config(args), lambda step, fraction: console.step(step))
    except MLPlatError as err:
        console.finish()
        print(f"mlplat: {err}", file=sys.stderr)
        return 1
    console.ready("serving-env", time.monotonic() - started, str(mlserver.parent.parent))
    return 0


def hub(args: argparse.Namespace) -> int:
    """Start a local multi-user JupyterHub on the platform's MLflow and Spark (or on the ones
    given with --tracking-uri/--spark-remote) and wait for Ctrl-C / SIGTERM."""
    if importlib.util.find_spec("jupyterhub") is None:
        print(f"mlplat: {HUB_EXTRA}", file=sys.stderr)
        return 1
    try:
        groups = _groups(args.group or [])  # before anything starts
    except ValueError as err:
        print(f"mlplat: {err}", file=sys.stderr)
        return 1
    config = _config(args)
    console = Console()
    _on_signals(_interrupt)  # while starting: stop at once
    try:
        return _run_hub(args, config, console, groups)
    except KeyboardInterrupt:
        console.finish()
        print(INTERRUPTED, flush=True)
        return 130


def _groups(specs: list[str]) -> dict[str, list[str]]:
    """``--group vision=ada,cy`` (repeatable) as {group: members}."""
    groups: dict[str, list[str]] = {}
    for spec in specs:
        name, _, members = spec.partition("=")
        users = [u.strip() for u in members.split(",") if u.strip()]
        if not name.strip() or not users:
            raise ValueError(f"--group {spec!r}: expected NAME=USER[,USER...]")
        groups.setdefault(name.strip(), []).extend(users)
    return groups


def _run_hub(
    args: argparse.Namespace, config: MLPlat, console: Console, groups: dict[str, list[str]]
) -> int:
    from jupyter_mlplat.hub.local import LocalHub

    platform = None
    if args.tracking_uri:
        services = {"tracking_uri": args.tracking_uri, "spark_remote": args.spark_remote or ""}
    else:
        config.tracking_auth = True  # many users on one MLflow: each as themself
        platform = LocalPlatform(
            config, notebook_dir=Path.cwd(), spark=not args.no_spark, lab=False
        )
        print(f"mlplat: starting MLflow and Spark under {platform.layout.root} ...", flush=True)
        try:
            runtime = platform.start(on_ready=console.ready, on_step=console.step)
        except ServiceError as err:
            console.finish()
            print(f"mlplat: {err}", file=sys.stderr)
            return 1
        services = {
            "tracking_uri": runtime["tracking_uri"],
            "spark_remote": runtime["spark_remote"],
            "spark_ui_url": "" if args.no_spark else f"http://127.0.0.1:{platform.spark_ui_port}",
            "artifacts_destination": platform.layout.artifacts.as_uri(),
        }
    users = [u.strip() for u in (args.users or "").split(",") if u.strip()]
    local_hub = LocalHub(config, port=args.port, users=users, groups=groups, **services)
    try:
        try:
            console.step("jupyterhub: starting (with its proxy)")
            seconds = local_hub.start(password=os.environ.get("MLPLAT_HUB_PASSWORD", ""))
        except ServiceError as err:
            console.finish()
            print(f"mlplat: {err}", file=sys.stderr)
            return 1
        console.ready("jupyterhub", seconds, f"{local_hub.url}/hub/login")
        stopping = _stop_when_signalled()
        print(
            "\n".join(
                [
                    "mlplat: the hub is up",
                    f"  JupyterHub  {local_hub.url}/hub/login",
                    f"  users       {', '.join(users) or 'anyone (allow_all)'}",
                    f"  password    in {local_hub.dir / 'password'}",
                    f"  MLflow      {services['tracking_uri']}"
                    f"  ({'a user per hub user' if config.tracking_auth else 'no users'})",
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
        # Airflow starts only once the project has pipelines
        runtime["airflow_url"] = runtime.get("airflow_url") or "(not started: no pipelines yet)"
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


STATE_HELP = """\
state directory: everything the platform keeps lives under it (MLflow database and artifacts,
Spark warehouse and metastore, logs/, the Jupyter token, platform.json while running, deployed
model servers). It is --state-dir, else $MLP_STATE_DIR, else ~/.local/share/jupyter-mlplat;
a second `mlplat up` on the same directory reuses it."""

EXAMPLES = """\
examples:
  mlplat up                                    everything, on free loopback ports
  mlplat up --port 8888 -- --ServerApp.allow_origin='*'   JupyterLab options after --
  mlplat --state-dir /data/mlplat up --no-spark
  mlplat status --json
  mlplat stop"""


def _wrap(text: str) -> str:
    """A description wrapped as argparse would (raw formatting keeps the epilogs' layout)."""
    return textwrap.fill(text, width=88, break_on_hyphens=False)


def parser() -> argparse.ArgumentParser:
    """The ``mlplat`` command line; every subcommand's ``--help`` says what it does."""
    raw = argparse.RawDescriptionHelpFormatter
    root = argparse.ArgumentParser(
        prog="mlplat",
        description=_wrap(
            "Run jupyter-mlplat on this machine: an MLflow tracking server, a Spark "
            "Connect server with a demo database, and JupyterLab with the platform's extensions "
            "(or a local multi-user JupyterHub). Servers listen on 127.0.0.1 only. Ctrl-C (or "
            "`mlplat stop`) stops everything that `mlplat up` / `mlplat hub` started."
        ),
        epilog=f"{STATE_HELP}\n\n{EXAMPLES}",
        formatter_class=raw,
    )
    root.add_argument(
        "--version", action="version", version=f"mlplat (jupyter-mlplat) {__version__}"
    )
    root.add_argument(
        "--state-dir",
        metavar="DIR",
        help="state directory (default: $MLP_STATE_DIR or ~/.local/share/jupyter-mlplat)",
    )
    sub = root.add_subparsers(dest="command", required=True, metavar="COMMAND")
    p_up = sub.add_parser(
        "up",
        help="start MLflow, Spark Connect and JupyterLab; Ctrl-C stops them",
        description=_wrap(
            "Start MLflow, Spark Connect (with the demo database) and JupyterLab under "
            "the state directory, print each as it becomes ready with its time, then the lab's URL "
            "(with its token). Runs in the foreground: Ctrl-C or SIGTERM (or `mlplat stop` from "
            "another shell) stops everything it started, model servers included. A server that "
            "dies is restarted (3 times at most)."
        ),
        epilog=f"{STATE_HELP}\n\nJupyterLab options go after --, e.g.\n"
        "  mlplat up -- --ServerApp.allow_origin='*' --LabApp.default_url=/lab/tree/start.ipynb",
        formatter_class=raw,
    )
    p_up.add_argument(
        "--notebook-dir", default=".", help="JupyterLab's root directory (default: .)"
    )
    p_up.add_argument("--port", type=int, default=0, help="JupyterLab port (default: a free one)")
    p_up.add_argument(
        "--mlflow-port", type=int, default=0, help="MLflow port (default: a free one)"
    )
    p_up.add_argument("--no-spark", action="store_true", help="do not start Spark Connect")
    p_up.add_argument(
        "--no-pipelines",
        action="store_true",
        help="never start the embedded Airflow (by default it starts once the project's "
        "pipelines folder has a DAG file)",
    )
    p_up.add_argument(
        "lab_args", nargs="*", metavar="-- LAB_OPTION", help="options passed on to JupyterLab"
    )
    p_up.set_defaults(run=up)
    p_hub = sub.add_parser(
        "hub",
        help="start MLflow, Spark and a local multi-user JupyterHub; Ctrl-C stops them",
        description=_wrap(
            "Start MLflow and Spark Connect (or use --tracking-uri), then a local "
            "JupyterHub where each user logs in with the shared password and gets a JupyterLab "
            "with the platform. The password is $MLPLAT_HUB_PASSWORD, else a random one kept in "
            "<state>/hub/password. For trying the login flow on one machine: users are not "
            "isolated. Needs the hub extra (pip install 'jupyter-mlplat[hub]'). Ctrl-C or "
            "`mlplat stop` stops the hub, the users' servers and the services it started."
        ),
        epilog=STATE_HELP,
        formatter_class=raw,
    )
    p_hub.add_argument("--port", type=int, default=8000, help="hub port (default: 8000)")
    p_hub.add_argument(
        "--users", default="", help="comma-separated user names allowed to log in (default: any)"
    )
    p_hub.add_argument(
        "--group",
        action="append",
        metavar="NAME=USER,...",
        help="a JupyterHub group (repeatable); with the hub's MLflow, a team: its members may "
        "edit what each of them creates",
    )
    p_hub.add_argument("--no-spark", action="store_true", help="do not start Spark Connect")
    p_hub.add_argument("--tracking-uri", help="use this MLflow server instead of starting one")
    p_hub.add_argument("--spark-remote", help="with --tracking-uri: this Spark Connect server")
    p_hub.set_defaults(run=hub)
    p_status = sub.add_parser(
        "status",
        help="show the running platform's URLs",
        description=_wrap(
            "Show the running platform (from <state>/platform.json): the lab URL with "
            "its token, MLflow (and whether it answers), the state directory and the pid of "
            "`mlplat up`. Exit code 1 when nothing runs on this state directory."
        ),
        epilog=STATE_HELP,
        formatter_class=raw,
    )
    p_status.add_argument(
        "--json", action="store_true", help="everything platform.json holds, as JSON"
    )
    p_status.set_defaults(run=status)
    sub.add_parser(
        "stop",
        help="stop the running platform",
        description=_wrap(
            "Stop the `mlplat up` / `mlplat hub` running on this state directory, as "
            "Ctrl-C would (SIGTERM), and wait until it has stopped everything (30 s at most)."
        ),
        epilog=STATE_HELP,
        formatter_class=raw,
    ).set_defaults(run=stop)
    sub.add_parser(
        "serving-env",
        help="build the local model servers' environment (MLServer)",
        description=_wrap(
            "Build the environment that local model servers run in (MLServer + "
            "mlserver-mlflow, from the serving lock) now, with its progress, rather than at the "
            "first deploy. Does nothing when it is current. Lives under <state>/serving-env "
            "(or $MLP_SERVING_ENV_DIR)."
        ),
        epilog=STATE_HELP,
        formatter_class=raw,
    ).set_defaults(run=serving_env)
    return root


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``mlplat``."""
    args = parser().parse_args(argv)
    return int(args.run(args))


if __name__ == "__main__":
    sys.exit(main())
