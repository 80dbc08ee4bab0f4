"""The local target: each deployment is one MLServer process (mlserver-mlflow, V2 protocol).

MLServer runs from its own environment (built with ``uv`` from the serving lock, like a
separate container), on free loopback ports, in its own process group: it keeps serving when
the Jupyter server stops, and ``restore`` re-attaches to it after a restart.

A rollout (new deployment, replace, canary, promote, rollback) starts a new server on a new
port, waits until every model version in it is ready, and only then stops the old one: no
downtime, but the endpoint's port changes with every rollout (the record always has it).

Canary, locally: both versions load in the one server; unversioned requests
(``/v2/models/<name>/infer``) go to the stable version, the canary answers at
``/v2/models/<name>/versions/<version>/infer``. There is no weighted split of traffic.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlparse
from urllib.request import url2pathname

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.deploy.backends import DeployBackend, Progress, no_progress
from jupyter_mlplat.deploy.models import Deployment, Revision
from jupyter_mlplat.errors import InvalidInput, MLPlatError, Unavailable
from jupyter_mlplat.infra.processes import free_port, http_ok, signal_group

LOCK_FILE = Path(__file__).parent / "serving" / "requirements.txt"
ENV_MARKER = ".mlplat-serving-lock"
CANARY_NOTE = (
    "local canary: unversioned requests go to the stable version; the canary answers at "
    "/v2/models/{name}/versions/{version}/infer (no weighted traffic split locally)"
)
# MLServer's inference processes: one is enough for small models on a shared machine. With 0
# the model runs in the server's own process: faster at concurrency 1 here (1.68x vs 0.99x
# `mlflow models serve`, benchmarks/deploy_local.py), but a local canary (two versions of one
# model in one server) then never became ready in the tests.
PARALLEL_WORKERS = 1


class ServingEnvironment:
    """The Python environment that runs MLServer, built from the platform's serving lock."""

    def __init__(self, path: Path, lock: Path = LOCK_FILE) -> None:
        self.path = path
        self.lock = lock

    @property
    def python(self) -> Path:
        return self.path / "bin" / "python"

    @property
    def mlserver(self) -> Path:
        return self.path / "bin" / "mlserver"

    def lock_hash(self) -> str:
        return hashlib.sha256(self.lock.read_bytes()).hexdigest()

    def is_current(self) -> bool:
        marker = self.path / ENV_MARKER
        return (
            self.mlserver.exists()
            and marker.exists()
            and marker.read_text().strip() == self.lock_hash()
        )

    def ensure(self, progress: Progress | None = None) -> Path:
        """Create (or rebuild after a lock change) the environment; return its ``mlserver``."""
        if self.is_current():
            return self.mlserver
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with (self.path.parent / f".{self.path.name}.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time (two deploys at once)
            if not self.is_current():
                self._build(progress)
        return self.mlserver

    def _build(self, progress: Progress | None) -> None:
        """``uv venv`` then one ``uv pip install --compile-bytecode``, reporting as it goes:
        uv's phase lines (resolved, prepared, installed), then the share of modules compiled
        (most of the time: ~11k files)."""
        from uv import find_uv_bin

        uv = find_uv_bin()
        report = progress or no_progress
        report(f"{BUILDING}: creating it", 0.0)
        # scripts in a venv carry its absolute path: build in place; the marker is written
        # last, so an interrupted build is never taken for a good one
        shutil.rmtree(self.path, ignore_errors=True)
        env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
        _run_uv([uv, "venv", "--quiet", "--python", "3.11", str(self.path)], env, self.path)
        report(f"{BUILDING}: resolving the serving lock", 0.02)
        install = [uv, "pip", "install", "--compile-bytecode", "--python", str(self.python),
                   "-r", str(self.lock)]  # fmt: skip
        _run_uv(install, env, self.path, _InstallProgress(self.path, report))
        (self.path / ENV_MARKER).write_text(self.lock_hash())
        report(f"{BUILDING}: ready", 1.0)


BUILDING = "building the serving environment (first deploy only)"


class _InstallProgress:
    """Turns ``uv pip install`` output and the compiled modules into ``(step, fraction)``."""

    #: uv's summary lines on stderr -> (step, fraction reached)
    PHASES = (
        ("Resolved", "resolved {}; downloading", 0.05),
        ("Prepared", "prepared {}; installing", 0.15),
        ("Installed", "installed {}; compiling bytecode", 0.2),
    )

    def __init__(self, env_dir: Path, report: Progress) -> None:
        self.env_dir = env_dir
        self.report = report
        self.sources = 0  # .py files to compile, counted once installed

    def line(self, text: str) -> None:
        for prefix, step, fraction in self.PHASES:
            if text.startswith(prefix):
                count = text.partition(" in ")[0].removeprefix(prefix).strip()  # "123 packages"
                self.report(f"{BUILDING}: {step.format(count)}", fraction)
                if prefix == "Installed":
                    self.sources = _count(self.env_dir, "*.py")

    def tick(self) -> None:
        if self.sources:
            done = min(1.0, _count(self.env_dir, "*.pyc") / self.sources)
            self.report(f"{BUILDING}: compiling bytecode ({done:.0%})", 0.2 + 0.78 * done)


def _count(env_dir: Path, pattern: str) -> int:
    return sum(1 for _ in (env_dir / "lib").rglob(pattern))


def _run_uv(
    command: list[str], env: dict[str, str], env_dir: Path, watch: _InstallProgress | None = None
) -> None:
    """Run uv, feeding its stderr lines (and a tick every second) to ``watch``; on failure
    remove the half-built environment and raise with uv's last lines."""
    lines: list[str] = []
    with subprocess.Popen(
        command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env
    ) as process:
        stderr = process.stderr
        assert stderr is not None

        def read() -> None:
            for line in stderr:
                lines.append(line.rstrip())
                if watch is not None:
                    watch.line(line.strip())

        reader = threading.Thread(target=read, daemon=True)
        reader.start()
        while process.poll() is None:
            reader.join(1.0)
            if watch is not None and process.poll() is None:
                watch.tick()
        reader.join()
    if process.returncode != 0:
        shutil.rmtree(env_dir, ignore_errors=True)
        tail = [line for line in lines if line.strip()][-3:]
        raise Unavailable("cannot build the serving environment: " + " ".join(tail))


def serving_env_path(config: MLPlat) -> Path:
    """Where the serving environment lives (``serving_env_dir`` or ``<state>/serving-env``)."""
    if config.serving_env_dir:
        return Path(config.serving_env_dir).expanduser()
    return config.resolved_state_dir / "serving-env"


def fetch_model(revision: Revision, destination: Path, tracking_uri: str) -> Path:
    """The model's files under ``destination`` (downloaded once per version)."""
    model_dir = destination / "model"
    if (model_dir / "MLmodel").exists():
        return model_dir
    staging = destination / "model.partial"
    shutil.rmtree(staging, ignore_errors=True)
    staging.mkdir(parents=True)
    source = revision.model.storage_uri
    try:
        if source.startswith("file:") or source.startswith("/"):
            local = url2pathname(urlparse(source).path) if source.startswith("file:") else source
            path = Path(local)
            if not (path / "MLmodel").exists():
                raise InvalidInput(f"{revision.model.uri}: no MLmodel at {source}")
            shutil.copytree(path, staging, dirs_exist_ok=True)
        else:
            import mlflow.artifacts

            # through the tracking server (its artifact proxy): the server holds the access
            mlflow.artifacts.download_artifacts(
                artifact_uri=f"models:/{revision.model.name}/{revision.model.version}",
                dst_path=str(staging),
                tracking_uri=tracking_uri or None,
            )
    except MLPlatError:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    except Exception as err:
        shutil.rmtree(staging, ignore_errors=True)
        raise Unavailable(f"cannot fetch {revision.model.uri}: {err}") from None
    found = next(staging.rglob("MLmodel"), None)
    if found is None:
        shutil.rmtree(staging, ignore_errors=True)
        raise InvalidInput(f"{revision.model.uri} is not an MLflow model (no MLmodel file)")
    found.parent.rename(model_dir)
    shutil.rmtree(staging, ignore_errors=True)
    return model_dir


class LocalBackend(DeployBackend):
    """Deployments as MLServer processes on loopback ports."""

    name = "local"

    def __init__(self, config: MLPlat) -> None:
        self.config = config
        self.root = config.resolved_state_dir / "deployments"
        self.env = ServingEnvironment(serving_env_path(config))

    # -- the protocol -------------------------------------------------------------------------
    def apply(
        self, deployment: Deployment, previous: Deployment | None, progress: Progress
    ) -> Deployment:
        if deployment.canary and deployment.canary.model.version == deployment.stable.model.version:
            raise InvalidInput(
                f"version {deployment.canary.model.version} is already the stable version"
            )
        # the first deploy builds the environment: its own progress fills the bar's first 30 %
        mlserver = self.env.ensure(lambda step, fraction: progress(step, 0.3 * fraction))
        base = self.root / deployment.name
        revisions = [r for r in (deployment.stable, deployment.canary) if r is not None]
        for revision in revisions:
            progress(f"fetching {revision.model.name} version {revision.model.version}", 0.3)
            fetch_model(revision, base / revision.model.version, self.config.tracking_uri)
        server_dir = self._write_server(deployment, base)
        port = int(json.loads((server_dir / "settings.json").read_text())["http_port"])
        progress("starting the model server", 0.45)
        pid = self._start(mlserver, server_dir)
        details = {
            "pid": pid,
            "port": port,
            "log": str(server_dir / "mlserver.log"),
            "server_dir": str(server_dir),
        }
        try:
            self._wait_ready(deployment, port, pid, server_dir, progress)
        except BaseException:
            _stop_group(pid)
            shutil.rmtree(server_dir, ignore_errors=True)
            raise
        # the new server answers: only now stop what served before
        if previous is not None and previous.details.get("pid"):
            progress("stopping the previous server", 0.95)
            self._stop(previous)
        deployment.details = details
        deployment.endpoint = f"http://127.0.0.1:{port}"
        deployment.state = "ready"
        deployment.message = (
            CANARY_NOTE.format(name=deployment.name, version=deployment.canary.model.version)
            if deployment.canary
            else ""
        )
        return deployment

    def status(self, deployment: Deployment) -> Deployment:
        if deployment.state != "ready":
            return deployment
        port, pid = deployment.details.get("port"), deployment.details.get("pid")
        if not (pid and _alive(pid) and port and _ready(int(port), deployment.name)):
            deployment.state = "failed"
            deployment.message = "the model server is not running (see its log)"
        return deployment

    def delete(self, deployment: Deployment) -> None:
        self._stop(deployment)
        shutil.rmtree(self.root / deployment.name, ignore_errors=True)

    def restore(self, deployments: list[Deployment]) -> list[Deployment]:
        restored = []
        for deployment in deployments:
            port, pid = deployment.details.get("port"), deployment.details.get("pid")
            if deployment.state != "ready":
                restored.append(deployment)
                continue
            if pid and _alive(pid) and port and _ready(int(port), deployment.name):
                restored.append(deployment)  # still serving: keep it
                continue
            # the old server is gone: drop its files (never signal its pid, it may be reused)
            if deployment.details.get("server_dir"):
                shutil.rmtree(deployment.details["server_dir"], ignore_errors=True)
            try:
                restored.append(self.apply(deployment, None, no_progress))
            except Exception as err:
                deployment.state = "failed"
                deployment.message = f"could not restart after a restart: {err}"
                restored.append(deployment)
        return restored

    # -- helpers ------------------------------------------------------------------------------
    def _write_server(self, deployment: Deployment, base: Path) -> Path:
        server_dir = base / f"server-{time.time_ns()}"
        server_dir.mkdir(parents=True)
        http_port = free_port()
        settings = {
            "host": "127.0.0.1",
            "http_port": http_port,
            "grpc_port": _other_free_port(http_port),
            "metrics_endpoint": None,
            "parallel_workers": PARALLEL_WORKERS,
            "debug": False,
            "load_models_at_startup": True,
            "model_repository_root": str(server_dir),
            "environments_dir": str(server_dir / ".envs"),
            "metrics_dir": str(server_dir / ".metrics"),
        }
        (server_dir / "settings.json").write_text(json.dumps(settings, indent=2))
        models: list[tuple[str, Revision, str | None]] = [("stable", deployment.stable, None)]
        if deployment.canary:
            models.append(("canary", deployment.canary, deployment.canary.model.version))
        for role, revision, version in models:
            model_settings: dict[str, Any] = {
                "name": deployment.name,
                "implementation": "mlserver_mlflow.MLflowRuntime",
                "parameters": {"uri": str(base / revision.model.version / "model")},
            }
            # the stable version loads without a version: MLServer sends unversioned
            # requests to it; the canary is addressed by its registry version
            if version is not None:
                model_settings["parameters"]["version"] = version
            folder = server_dir / role
            folder.mkdir()
            (folder / "model-settings.json").write_text(json.dumps(model_settings, indent=2))
        return server_dir

    def _start(self, mlserver: Path, server_dir: Path) -> int:
        env = {k: v for k, v in os.environ.items() if not k.startswith(("MLP_", "JUPYTER", "JPY_"))}
        env |= {"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
        env.pop("PYTHONPATH", None)
        env.pop("VIRTUAL_ENV", None)
        with (server_dir / "mlserver.log").open("ab") as log:
            process = subprocess.Popen(
                [str(mlserver), "start", str(server_dir)],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                cwd=server_dir,
                env=env,
                start_new_session=True,  # its own group: outlives the Jupyter server
            )
        (server_dir / "mlserver.pid").write_text(str(process.pid))
        return process.pid

    def _wait_ready(
        self, deployment: Deployment, port: int, pid: int, server_dir: Path, progress: Progress
    ) -> None:
        timeout = self.config.deploy_ready_timeout
        started = time.monotonic()
        checks = [f"/v2/models/{deployment.name}/ready"]
        if deployment.canary:
            checks.append(
                f"/v2/models/{deployment.name}/versions/{deployment.canary.model.version}/ready"
            )
        step = "waiting for /v2/health/ready"
        while time.monotonic() - started < timeout:
            if not _alive(pid):
                raise Unavailable(
                    "the model server exited: " + _log_tail(server_dir / "mlserver.log")
                )
            elapsed = time.monotonic() - started
            # MLServer with a small model is ready in ~10 s: show movement in that window
            progress(f"{step} ({elapsed:.0f} s)", min(0.9, 0.5 + 0.4 * elapsed / 15))
            if _get(port, "/v2/health/ready") and all(_get(port, path) for path in checks):
                return
            time.sleep(0.25)
        raise Unavailable(
            f"the model server was not ready after {timeout} s: "
            + _log_tail(server_dir / "mlserver.log")
        )

    def _stop(self, deployment: Deployment) -> None:
        pid = deployment.details.get("pid")
        if pid:
            _stop_group(int(pid))
        server_dir = deployment.details.get("server_dir")
        if server_dir:
            shutil.rmtree(server_dir, ignore_errors=True)


def _other_free_port(taken: int) -> int:
    for _ in range(20):
        port = free_port()
        if port != taken:
            return port
    raise Unavailable("no free port on 127.0.0.1")


def _get(port: int, path: str) -> bool:
    return http_ok(f"http://127.0.0.1:{port}{path}")


def _ready(port: int, name: str) -> bool:
    return _get(port, "/v2/health/ready") and _get(port, f"/v2/models/{name}/ready")


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    # a zombie child of this process counts as gone
    with contextlib.suppress(ChildProcessError):
        done, _ = os.waitpid(pid, os.WNOHANG)
        if done:
            return False
    return True


def _stop_group(pid: int, timeout: float = 15) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after ``timeout``."""
    signal_group(pid, signal.SIGTERM)
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and _alive(pid):
        time.sleep(0.1)
    signal_group(pid, signal.SIGKILL)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text[-lines:]) or "(empty log)"


def stop_model_servers(state_dir: Path) -> int:
    """Stop every local model server under ``state_dir`` (``mlplat stop``); records stay, so
    the next start restarts them. Returns how many were running."""
    stopped = 0
    for pid_file in (state_dir / "deployments").glob("*/server-*/mlserver.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text())
            if _alive(pid):
                _stop_group(pid)
                stopped += 1
    return stopped


def build_serving_env(config: MLPlat, progress: Progress | None = None) -> Path:
    """Build (or check) the serving environment ahead of the first deploy."""
    return ServingEnvironment(serving_env_path(config)).ensure(progress)
