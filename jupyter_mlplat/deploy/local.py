"""The local target: one MLServer process (mlserver-mlflow, V2 protocol) per model version,
behind the local inference gateway (``gateway.py``, HAProxy).

Every deployment keeps one URL, ``http://127.0.0.1:<gateway>/v2/models/<name>/...``; a canary
is a second server with its share of the traffic as gateway weights. MLServer runs from its
own environment (built with ``uv`` from the serving lock, like a separate container), on a
free loopback port, in its own process group: it keeps serving when the Jupyter server stops,
and ``restore`` re-attaches to it after a restart. Servers are forked from a warm zygote
(``forks.py``) that has MLServer, MLflow and scikit-learn imported: ready in ~1-2 s, not ~20.

A rollout starts the servers of versions not yet serving, waits until they are ready, adds
them to the gateway (health check passed), switches the weights, drains the servers left out
and only then stops them: no request is dropped. Promote and rollback only move weights and
stop the server left out.

A rollout cut short (the Jupyter server killed while the new version's server starts) leaves
the gateway serving what it served: ``restore`` routes each deployment as its restored record
says, forgets the routes of deployments not ready, and stops every server process under a
deployment's folder that its record does not name.
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
from jupyter_mlplat.deploy.forks import ServerForks
from jupyter_mlplat.deploy.gateway import Gateway, Route
from jupyter_mlplat.deploy.models import Deployment, Revision
from jupyter_mlplat.errors import InvalidInput, MLPlatError, Unavailable
from jupyter_mlplat.infra.processes import free_port, http_ok, pid_alive, signal_group

LOCK_FILE = Path(__file__).parent / "serving" / "requirements.txt"
#: mlserver-mlflow's runtime with a cheaper pandas decode (serving/mlplat_runtime.py); copied
#: next to each server's model settings, where MLServer imports the implementation from
RUNTIME = Path(__file__).parent / "serving" / "mlplat_runtime.py"
ENV_MARKER = ".mlplat-serving-lock"
# In-process inference (no worker process): faster (1.68x `mlflow models serve` at
# concurrency 1 vs 0.99x with one worker) and ~half the memory; the canary's version runs in a
# server of its own, so two versions never share one (which hung with 0 workers).
PARALLEL_WORKERS = 0


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
    """Deployments as MLServer processes (one per model version) behind the gateway."""

    name = "local"

    def __init__(self, config: MLPlat) -> None:
        self.config = config
        self.root = config.resolved_state_dir / "deployments"
        self.env = ServingEnvironment(serving_env_path(config))
        self.gateway = Gateway(config.resolved_state_dir, config.gateway_port)
        self._forks: ServerForks | None = None

    # -- the protocol -------------------------------------------------------------------------
    def apply(
        self, deployment: Deployment, previous: Deployment | None, progress: Progress
    ) -> Deployment:
        if deployment.canary and deployment.canary.model.version == deployment.stable.model.version:
            raise InvalidInput(
                f"version {deployment.canary.model.version} is already the stable version"
            )
        running = _servers(previous) if previous is not None else []
        plan = _plan(deployment, running)
        started: list[dict[str, Any]] = []
        try:
            if any(reuse is None for _, _, reuse in plan):
                # the first deploy builds the environment: its progress fills the first 30 %
                mlserver = self.env.ensure(lambda step, fraction: progress(step, 0.3 * fraction))
                with contextlib.suppress(OSError, Unavailable):  # else _start says why
                    self._server_forks().prestart(_server_env())
                for revision, _, reuse in plan:
                    if reuse is None:
                        started.append(self._launch(deployment.name, revision, mlserver, progress))
                self._wait_ready(deployment.name, started, progress)
            servers = []
            for revision, weight, reuse in plan:
                server = reuse or next(s for s in started if s["version"] == revision.model.version)
                servers.append(server | {"weight": weight})
            progress("switching traffic at the gateway", 0.9)
            url = self.gateway.route(deployment.name, [_route(s) for s in servers])
        except BaseException:
            if previous is not None and running:
                # traffic may have moved already: back to what served before, then stop
                with contextlib.suppress(Exception):
                    self.gateway.route(deployment.name, [_route(s) for s in running])
            for server in started:
                _stop_server(self.root / deployment.name, server)
            raise
        # the gateway no longer sends anything to the servers left out: stop them
        kept = {s["port"] for s in servers}
        if previous is not None:
            progress("stopping the previous server", 0.95)
            for server in running:
                if server["port"] not in kept:
                    _stop_server(self.root / deployment.name, server)
            _stop_legacy(previous)
        # the gateway sends a canary exactly its share (weighted round robin)
        deployment.details = {"servers": servers, "canary_routing": "weighted"}
        deployment.endpoint = url
        deployment.state = "ready"
        deployment.message = ""
        return deployment

    def status(self, deployment: Deployment) -> Deployment:
        if deployment.state != "ready" or deployment.target != self.name:
            return deployment
        servers = _servers(deployment)
        alive = [s for s in servers if pid_alive(int(s["pid"]))]
        if not alive:
            deployment.state = "failed"
            deployment.message = "the model server is not running (see its log)"
            return deployment
        if not self.gateway.running():
            self.gateway.ensure()  # supervised here too: it restarts from its last routes
        down = [s["version"] for s in servers if s not in alive]
        if down:
            deployment.message = f"the server of version {', '.join(down)} is down"
        return deployment

    def delete(self, deployment: Deployment) -> None:
        self.gateway.forget(deployment.name)
        for server in _servers(deployment):
            _stop_server(self.root / deployment.name, server)
        _stop_legacy(deployment)
        shutil.rmtree(self.root / deployment.name, ignore_errors=True)
        if not _any_server(self.root):  # nothing deployed any more: no warm zygote either
            ServerForks(self.root, self.env.python, "").stop()

    def restore(self, deployments: list[Deployment]) -> list[Deployment]:
        """Keep the servers still serving, restart the others; the gateway's routes are
        regenerated from the records (and it starts on its recorded port). Then whatever the
        records do not name goes: routes of deployments not ready, and servers a rollout cut
        short by the restart had started (after the gateway moved off them)."""
        kept: dict[str, list[Route]] = {}
        again: list[Deployment] = []
        for deployment in deployments:
            if deployment.state != "ready":
                continue
            servers = _servers(deployment)
            if servers and all(_serves(s, deployment.name) for s in servers):
                kept[deployment.name] = [_route(s) for s in servers]
            else:
                again.append(deployment)
        if kept:
            url = self.gateway.sync(kept)
            for deployment in deployments:
                if deployment.name in kept:
                    deployment.endpoint = url
        for deployment in again:
            # the old servers are gone: drop their files (never signal a pid, it may be reused)
            for server in _servers(deployment):
                shutil.rmtree(_server_dir(self.root / deployment.name, server), ignore_errors=True)
            legacy = deployment.details.get("port")
            if legacy and _get(int(legacy), f"/v2/models/{deployment.name}/ready"):
                _stop_legacy(deployment)  # a server from before the gateway, still answering
            elif deployment.details.get("server_dir"):
                shutil.rmtree(deployment.details["server_dir"], ignore_errors=True)
            deployment.details = {}
            try:
                self.apply(deployment, None, no_progress)
            except Exception as err:
                deployment.state = "failed"
                deployment.message = f"could not restart after a restart: {err}"
        self._reconcile(deployments)
        return deployments

    def _reconcile(self, deployments: list[Deployment]) -> None:
        """Routes and server processes as the (restored) records say, nothing else."""
        routed = self.gateway.routes()
        for deployment in deployments:
            ready = deployment.state == "ready"
            if not ready and deployment.name in routed:
                self.gateway.forget(deployment.name)
            wanted = {int(s["port"]) for s in _servers(deployment)} if ready else set()
            base = self.root / deployment.name
            for server_dir in sorted(base.glob("server-*")):
                port = server_dir.name.removeprefix("server-")
                if port.isdigit() and int(port) in wanted:
                    continue
                pid = _server_pid(server_dir)
                if pid is not None:
                    _stop_group(pid)
                shutil.rmtree(server_dir, ignore_errors=True)

    def log(self, deployment: Deployment, lines: int) -> dict[str, str]:
        """Each server's log tail; the server's own paths are shown as ``<server>``."""
        logs = {}
        for server in _servers(deployment):
            server_dir = _server_dir(self.root / deployment.name, server)
            try:
                text = (server_dir / "mlserver.log").read_text(errors="replace")
            except OSError:
                text = ""
            tail = "\n".join(text.splitlines()[-lines:])
            logs[str(server["version"])] = tail.replace(str(self.root), "<server>")
        return logs

    # -- helpers ------------------------------------------------------------------------------
    def _launch(
        self, name: str, revision: Revision, mlserver: Path, progress: Progress
    ) -> dict[str, Any]:
        """Fetch ``revision`` and start its MLServer; the server's record entry."""
        version = revision.model.version
        progress(f"fetching {revision.model.name} version {version}", 0.3)
        model_dir = fetch_model(revision, self.root / name / version, self.config.tracking_uri)
        port = free_port()
        server = {"version": version, "port": port, "pid": 0}
        server_dir = _server_dir(self.root / name, server)
        server_dir.mkdir(parents=True)
        settings = {
            "host": "127.0.0.1",
            "http_port": port,
            "grpc_port": _other_free_port(port),
            "metrics_endpoint": None,
            # the answers are a few hundred bytes: no gzip middleware wrapping every send
            "gzip_enabled": False,
            "parallel_workers": PARALLEL_WORKERS,
            "debug": False,
            "load_models_at_startup": True,
            "model_repository_root": str(server_dir),
            "environments_dir": str(server_dir / ".envs"),
            "metrics_dir": str(server_dir / ".metrics"),
        }
        (server_dir / "settings.json").write_text(json.dumps(settings, indent=2))
        size, wait = self.config.serving_max_batch_size, self.config.serving_max_batch_ms
        model_settings = {
            "name": name,
            "implementation": f"{RUNTIME.stem}.MLflowRuntime",
            # one version per server: unversioned requests go to it, and every answer says
            # which version gave it (``model_version``)
            "parameters": {
                "uri": str(model_dir),
                "version": version,
                # concurrent requests become one predict: the pandas decode, schema check
                # and sklearn validation cost ~the same for 1 row as for 8; the runtime
                # batches (it never holds a lone request), MLServer's batching is off
                "extra": {"batch_size": size, "batch_wait": max(wait, 0.0) / 1000},
            },
            "max_batch_size": 1,
        }
        (server_dir / "model").mkdir()
        shutil.copyfile(RUNTIME, server_dir / "model" / RUNTIME.name)
        (server_dir / "model" / "model-settings.json").write_text(json.dumps(model_settings))
        if not self._server_forks().ready():
            # the first server in a while: the zygote imports MLServer, MLflow, sklearn once
            progress("starting the model-server zygote (imports, first deploy only)", 0.4)
            with contextlib.suppress(OSError, Unavailable):  # else _start says why
                self._server_forks().ensure(_server_env())
        progress(f"starting the model server of version {version}", 0.45)
        server["pid"] = self._start(mlserver, server_dir)
        return server

    def _server_forks(self) -> ServerForks:
        if self._forks is None:
            self._forks = ServerForks(self.root, self.env.python, self.env.lock_hash())
        return self._forks

    def _start(self, mlserver: Path, server_dir: Path) -> int:
        """Fork the server from the warm zygote; start it from scratch if that fails."""
        env = _server_env()
        log = server_dir / "mlserver.log"
        try:
            pid = self._server_forks().start(server_dir, log, env)
        except (OSError, Unavailable) as err:
            with log.open("a") as out:
                out.write(f"mlplat: no warm zygote ({err}); starting mlserver directly\n")
            with log.open("ab") as out:
                process = subprocess.Popen(
                    [str(mlserver), "start", str(server_dir)],
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    stdin=subprocess.DEVNULL,
                    cwd=server_dir,
                    env=env,
                    start_new_session=True,  # its own group: outlives the Jupyter server
                )
            pid = process.pid
        (server_dir / "mlserver.pid").write_text(str(pid))
        return pid

    def _wait_ready(self, name: str, servers: list[dict[str, Any]], progress: Progress) -> None:
        timeout = self.config.deploy_ready_timeout
        started = time.monotonic()
        waiting = list(servers)
        while time.monotonic() - started < timeout:
            for server in list(waiting):
                log = _server_dir(self.root / name, server) / "mlserver.log"
                if not pid_alive(int(server["pid"])):
                    raise Unavailable("the model server exited: " + _log_tail(log))
                if _serves(server, name):
                    waiting.remove(server)
            if not waiting:
                return
            elapsed = time.monotonic() - started
            # MLServer with a small model is ready in a few seconds: show movement meanwhile
            progress(
                f"waiting for the model server to be ready ({elapsed:.0f} s)",
                min(0.85, 0.5 + 0.35 * elapsed / 10),
            )
            time.sleep(0.05)  # a forked server is ready in about a second
        log = _server_dir(self.root / name, waiting[0]) / "mlserver.log"
        raise Unavailable(f"the model server was not ready after {timeout} s: " + _log_tail(log))


def _server_env() -> dict[str, str]:
    """The model servers' (and the zygote's) environment: no platform or Jupyter settings."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLP_", "JUPYTER", "JPY_"))}
    env |= {"MLFLOW_DISABLE_TELEMETRY": "true", "PYTHONUNBUFFERED": "1"}
    env.pop("PYTHONPATH", None)
    env.pop("VIRTUAL_ENV", None)
    return env


def _plan(
    deployment: Deployment, running: list[dict[str, Any]]
) -> list[tuple[Revision, int, dict[str, Any] | None]]:
    """Each revision to serve, its weight, and the running server it keeps (None: start one).
    A version that already serves keeps its server (promote, rollback: weights only)."""
    wanted = [(deployment.stable, deployment.stable.traffic if deployment.canary else 100)]
    if deployment.canary is not None:
        wanted.append((deployment.canary, deployment.canary.traffic))
    plan = []
    for revision, weight in wanted:
        reuse = next(
            (s for s in running if s["version"] == revision.model.version and _serves(s)), None
        )
        plan.append((revision, weight, reuse))
    return plan


def _servers(deployment: Deployment) -> list[dict[str, Any]]:
    """The model servers recorded for ``deployment`` (``details.servers``)."""
    return [dict(s) for s in deployment.details.get("servers") or []]


def _server_dir(base: Path, server: dict[str, Any]) -> Path:
    return base / f"server-{server['port']}"


def _route(server: dict[str, Any]) -> Route:
    return Route(f"v{server['version']}-{server['port']}", int(server["port"]), server["weight"])


def _serves(server: dict[str, Any], name: str = "") -> bool:
    """The server's process lives and its model answers ready."""
    if not pid_alive(int(server.get("pid") or 0)):
        return False
    port = int(server["port"])
    return _get(port, "/v2/health/ready") and (not name or _get(port, f"/v2/models/{name}/ready"))


def _server_pid(server_dir: Path) -> int | None:
    """The live MLServer process of ``server_dir`` (its pid file), None if there is none.
    It must run in that directory (both ways of starting a server make it its working directory;
    a fork of the zygote keeps the zygote's command line): a pid reused by another process is
    left alone."""
    try:
        pid = int((server_dir / "mlserver.pid").read_text())
        cwd = os.readlink(f"/proc/{pid}/cwd").removesuffix(" (deleted)")
    except (OSError, ValueError):
        return None
    return pid if Path(cwd) == server_dir.resolve() else None


def _stop_server(base: Path, server: dict[str, Any]) -> None:
    if server.get("pid"):
        _stop_group(int(server["pid"]))
    shutil.rmtree(_server_dir(base, server), ignore_errors=True)


def _stop_legacy(deployment: Deployment) -> None:
    """A record from before the gateway: one server (``details.pid``) on its own port."""
    pid = deployment.details.get("pid")
    if pid:
        _stop_group(int(pid))
    if deployment.details.get("server_dir"):
        shutil.rmtree(deployment.details["server_dir"], ignore_errors=True)


def _other_free_port(taken: int) -> int:
    for _ in range(20):
        port = free_port()
        if port != taken:
            return port
    raise Unavailable("no free port on 127.0.0.1")


def _get(port: int, path: str) -> bool:
    return http_ok(f"http://127.0.0.1:{port}{path}")


def _stop_group(pid: int, timeout: float = 15) -> None:
    """SIGTERM the server's process group, SIGKILL what is left after ``timeout``; back when
    it has exited (its port is free)."""
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 10.0)):
        signal_group(pid, sig)
        deadline = time.monotonic() + wait
        while time.monotonic() < deadline and pid_alive(pid):
            time.sleep(0.05)
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


def _log_tail(path: Path, lines: int = 3) -> str:
    try:
        text = path.read_text(errors="replace").strip().splitlines()
    except OSError:
        return "(no log)"
    return " | ".join(line.strip() for line in text[-lines:]) or "(empty log)"


def _any_server(root: Path) -> bool:
    """Whether a model server recorded under ``root`` (``<state>/deployments``) is running."""
    for pid_file in root.glob("*/server-*/mlserver.pid"):
        with contextlib.suppress(OSError, ValueError):
            if pid_alive(int(pid_file.read_text())):
                return True
    return False


def stop_model_servers(state_dir: Path) -> int:
    """Stop every local model server under ``state_dir`` and the gateway (``mlplat stop``);
    records stay, so the next start restarts them. Returns how many servers were running."""
    Gateway(state_dir).stop()
    ServerForks(state_dir / "deployments", Path(), "").stop()
    stopped = 0
    for pid_file in (state_dir / "deployments").glob("*/server-*/mlserver.pid"):
        with contextlib.suppress(OSError, ValueError):
            pid = int(pid_file.read_text())
            if pid_alive(pid):
                _stop_group(pid)
                stopped += 1
    return stopped


def build_serving_env(config: MLPlat, progress: Progress | None = None) -> Path:
    """Build (or check) the serving environment ahead of the first deploy."""
    return ServingEnvironment(serving_env_path(config)).ensure(progress)
