"""The local platform: one state directory, the servers it runs, and how they start and stop."""

from __future__ import annotations

import fcntl
import json
import os
import secrets
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor, as_completed
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

from jupyter_mlplat.config import MLPlat, project_folder
from jupyter_mlplat.infra.files import write_private
from jupyter_mlplat.infra.processes import RestartBackoff, Service, ServiceError, free_port
from jupyter_mlplat.pipelines.airflow import AIRFLOW_UI_PATH, EmbeddedAirflow, has_dag_files
from jupyter_mlplat.spark.demo import DATABASE as DEMO_DATABASE

Ready = Callable[[str, float, str], None]  # service name, seconds since launch, where/what
Step = Callable[[str], None]  # the step under way, in a few words


@dataclass(frozen=True)
class Layout:
    """Where the platform keeps things under its state directory."""

    root: Path

    @property
    def mlflow_db(self) -> Path:
        return self.root / "mlflow" / "mlflow.db"

    @property
    def artifacts(self) -> Path:
        return self.root / "mlflow" / "artifacts"

    @property
    def spark(self) -> Path:
        """Spark warehouse and Derby metastore."""
        return self.root / "spark"

    @property
    def logs(self) -> Path:
        return self.root / "logs"

    @property
    def airflow(self) -> Path:
        """The embedded Airflow's home: its SQLite database, task logs, keys."""
        return self.root / "airflow"

    @property
    def runtime(self) -> Path:
        """Written while the platform runs: URLs, ports, pids."""
        return self.root / "platform.json"

    @property
    def ports(self) -> Path:
        """The ports of the last start, kept after a stop: the next start reuses them."""
        return self.root / "ports.json"

    @property
    def token(self) -> Path:
        return self.root / "token"

    @property
    def lock(self) -> Path:
        return self.root / "platform.lock"


def read_runtime(state_dir: Path) -> dict[str, Any] | None:
    """The running platform's URLs and pids, or None when it is not running."""
    try:
        return dict(json.loads(Layout(state_dir).runtime.read_text()))
    except (OSError, ValueError):
        return None


def remembered_ports(state_dir: Path) -> dict[str, int]:
    """The ports the platform had last time (so its URLs stay across restarts)."""
    try:
        return {k: int(v) for k, v in json.loads(Layout(state_dir).ports.read_text()).items()}
    except (OSError, ValueError, TypeError, AttributeError):
        return {}


class LocalPlatform:
    """MLflow tracking server + JupyterLab under one state directory, on loopback ports."""

    def __init__(
        self,
        config: MLPlat,
        notebook_dir: Path,
        *,
        lab_port: int = 0,
        mlflow_port: int = 0,
        lab_args: list[str] | None = None,
        spark: bool = True,
        lab: bool = True,
        pipelines: bool = True,
    ) -> None:
        self.config = config
        self.layout = Layout(config.resolved_state_dir)
        self.notebook_dir = notebook_dir
        self.lab_args = lab_args or []
        previous = remembered_ports(self.layout.root)
        self.mlflow_port = free_port(mlflow_port or previous.get("mlflow_port", 0))
        self.lab_port = free_port(lab_port or previous.get("lab_port", 0))
        self.spark = spark
        self.lab = lab  # False: MLflow and Spark only (the local hub runs the labs)
        self.spark_port = free_port(previous.get("spark_port", 0)) if spark else 0
        self.spark_ui_port = free_port(previous.get("spark_ui_port", 0)) if spark else 0
        # Airflow starts once the pipelines folder has a DAG file (at start or later)
        self.pipelines = pipelines and lab
        self.airflow_port = free_port(previous.get("airflow_port", 0)) if self.pipelines else 0
        self.airflow: EmbeddedAirflow | None = None
        self._airflow_thread: threading.Thread | None = None
        self._notes: list[str] = []
        self.services: list[Service] = []
        self._backoff: dict[str, RestartBackoff] = {}
        self._restart_at: dict[str, float] = {}
        self.runtime: dict[str, Any] = {}
        self._lock: IO[str] | None = None

    # -- state --------------------------------------------------------------------------------
    def _acquire(self) -> None:
        self.layout.root.mkdir(parents=True, exist_ok=True)
        self._lock = self.layout.lock.open("w")
        try:
            fcntl.flock(self._lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise ServiceError(
                f"another platform is already running on {self.layout.root} "
                "(stop it with `mlplat stop`)"
            ) from None

    def _token(self) -> str:
        path = self.layout.token
        if not path.exists():
            write_private(path, secrets.token_hex(24))
        return path.read_text().strip()

    # -- services -----------------------------------------------------------------------------
    @property
    def tracking_uri(self) -> str:
        return f"http://127.0.0.1:{self.mlflow_port}"

    @property
    def spark_remote(self) -> str:
        return f"sc://127.0.0.1:{self.spark_port}" if self.spark else ""

    @property
    def lab_url(self) -> str:
        return f"http://127.0.0.1:{self.lab_port}/lab?token={self._token()}"

    def mlflow_service(self) -> Service:
        self.layout.artifacts.mkdir(parents=True, exist_ok=True)
        backend = f"sqlite:///{self.layout.mlflow_db}"
        workers = self.config.local_mlflow_workers
        if workers == 1:  # one user: one process (`mlflow server` is a parent + uvicorn)
            command = [
                sys.executable, "-m", "jupyter_mlplat.tracking.server",
                "--backend-store-uri", backend,
                "--artifacts-destination", str(self.layout.artifacts),
                "--host", "127.0.0.1",
                "--port", str(self.mlflow_port),
                "--timeout-keep-alive", "600",
            ]  # fmt: skip
        else:
            command = [
                sys.executable, "-m", "mlflow", "server",
                "--backend-store-uri", backend,
                "--artifacts-destination", str(self.layout.artifacts),
                "--default-artifact-root", "mlflow-artifacts:/",
                "--serve-artifacts",
                "--host", "127.0.0.1",
                "--port", str(self.mlflow_port),
                "--workers", str(workers),
                # large artifacts: no idle cut-off while a multi-GiB body streams through
                "--uvicorn-opts", "--timeout-keep-alive 600",
            ]  # fmt: skip
        env = {
            "MLFLOW_DISABLE_TELEMETRY": "true",
            # one user on one machine: no background job runner (saves ~10 processes, ~2 GB)
            "MLFLOW_SERVER_ENABLE_JOB_EXECUTION": "false",
            # fewer glibc malloc arenas: the server's threads otherwise each grow their own
            "MALLOC_ARENA_MAX": "2",
        }
        if self.config.tracking_auth:
            command, env = self._with_tracking_auth(command, env)
        return Service(
            "mlflow", command, f"{self.tracking_uri}/health", self.layout.logs / "mlflow.log", env
        )

    def _with_tracking_auth(
        self, command: list[str], env: dict[str, str]
    ) -> tuple[list[str], dict[str, str]]:
        """MLflow's auth app: users, and permissions per experiment and registered model; its
        admin credential stays in the state directory (0600), never in a lab or kernel."""
        from jupyter_mlplat.tracking.auth import AdminCredential, auth_server_config
        from jupyter_mlplat.tracking.team_app import APP_NAME

        admin = AdminCredential.create(self.config.resolved_tracking_admin_dir)
        database = f"sqlite:///{self.layout.mlflow_db.with_name('auth.db')}"
        server_env = auth_server_config(self.layout.mlflow_db.parent, admin, database)
        # mlplat-auth: basic-auth, and the creator's team groups get their grants
        server_env["MLP_TRACKING_TEAM_PERMISSION"] = self.config.tracking_team_permission
        return [*command, "--app-name", APP_NAME], env | server_env

    def tracking_user_environment(self) -> dict[str, str]:
        """The lab's own MLflow credential (its user) when the auth app runs; set up on the
        server once MLflow answers (:meth:`start`)."""
        if not self.config.tracking_auth:
            return {}
        from jupyter_mlplat.tracking.auth import AdminCredential, credential_environment

        admin = AdminCredential.create(self.config.resolved_tracking_admin_dir)
        user = self.config.resolved_user
        return credential_environment(user, admin.user_password(user))

    def ensure_tracking_user(self) -> None:
        """Create the lab's MLflow user (``mlplat up`` with tracking_auth on)."""
        if self.config.tracking_auth and self.lab:
            from jupyter_mlplat.tracking.auth import AdminCredential, ensure_user

            admin = AdminCredential.load(self.config.resolved_tracking_admin_dir)
            ensure_user(self.tracking_uri, admin, self.config.resolved_user)

    def spark_service(self) -> Service:
        from jupyter_mlplat.spark.local_server import connect_server

        return connect_server(
            self.layout.spark,
            self.spark_port,
            self.spark_ui_port,
            self.layout.logs / "spark.log",
            driver_memory=self.config.local_spark_memory,
            java_options=self.config.local_spark_java_options,
        )

    def prepare_spark(self, on_step: Step | None = None) -> list[str]:
        """Warm the metastore (the first catalog call is slow) and create the demo database.

        In a child process: the Spark client it loads (~150 MB) is not kept by ``mlplat up``.
        """
        step = on_step or (lambda text: None)
        command = [sys.executable, "-m", "jupyter_mlplat.spark.demo", self.spark_remote]
        created: list[str] = []
        output: list[str] = []
        with subprocess.Popen(
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True
        ) as child:
            assert child.stdout is not None
            try:
                for line in child.stdout:
                    output.append(line.rstrip())
                    if line.startswith("step: "):
                        step(f"demo data: {line[len('step: ') :].strip()}")
                    elif line.startswith("created: "):
                        created = list(json.loads(line[len("created: ") :]))
            except BaseException:  # interrupted: do not wait for the seeding to finish
                child.kill()
                raise
        if child.returncode != 0:
            tail = "\n".join(output[-30:])
            raise ServiceError(f"creating the demo database failed:\n{tail}")
        return created

    @property
    def pipelines_dir(self) -> Path:
        """The project's pipelines folder, found from the notebook directory as kernels find it."""
        return project_folder(self.config.pipelines_dir, self.notebook_dir)

    @property
    def airflow_url(self) -> str:
        return f"http://127.0.0.1:{self.airflow_port}" if self.pipelines else ""

    def platform_env(self) -> dict[str, str]:
        """What the platform's servers (lab, Airflow) learn about it: ``MLP_*`` variables."""
        return (
            self.config.to_environment()
            | {
                "MLP_TRACKING_URI": self.tracking_uri,
                "MLP_STATE_DIR": str(self.layout.root),
                "MLP_ARTIFACTS_DESTINATION": self.layout.artifacts.as_uri(),
                "MLFLOW_DISABLE_TELEMETRY": "true",
                "MLP_SPARK_MODE": "local" if self.spark else "none",
                "MLP_SPARK_REMOTE": self.spark_remote,
                "MLP_SPARK_UI_URL": f"http://127.0.0.1:{self.spark_ui_port}" if self.spark else "",
                "MLP_AIRFLOW_URL": self.airflow_url,
            }
            | self.tracking_user_environment()
        )

    def embedded_airflow(self) -> EmbeddedAirflow:
        """The embedded Airflow: its tasks get the platform's environment as kernels do
        (``MLP_*``, no storage credentials, no server-only settings)."""
        server_only = self.config.server_only_variables()
        env = {
            k: v
            for k, v in (os.environ | self.platform_env()).items()
            if not self.config.is_secret(k) and k not in server_only
        }
        return EmbeddedAirflow(
            home=self.layout.airflow,
            dags_folder=self.pipelines_dir,
            port=self.airflow_port,
            env=env,
            ui_base_url=f"http://127.0.0.1:{self.lab_port}/{AIRFLOW_UI_PATH}",
            log_dir=self.layout.logs,
        )

    def start_pipelines(self, timeout: float = 300) -> dict[str, float]:
        """Start the embedded Airflow (blocking) and record it in the runtime file."""
        airflow = self.airflow = self.embedded_airflow()
        timings = airflow.start(timeout)
        self.services += airflow.services
        self.runtime["airflow_url"] = airflow.url
        self.runtime["pids"].update(airflow.pids())
        self.runtime["startup_seconds"].update(timings)
        self._write_runtime()
        return timings

    def _watch_pipelines(self) -> None:
        """Start Airflow in the background the first time the pipelines folder has a DAG."""
        if not self.pipelines or self._airflow_thread is not None:
            return
        if not has_dag_files(self.pipelines_dir):
            return

        def start() -> None:
            self._notes.append(f"pipelines found in {self.pipelines_dir}: starting Airflow ...")
            try:
                timings = self.start_pipelines()
            except ServiceError as err:
                self._notes.append(f"Airflow did not start: {err}")
                return
            self._notes.append(
                f"Airflow ready in {timings['airflow'] + timings['airflow-db']:.0f} s: "
                f"{self.airflow_url} (its UI in the lab: <lab URL>/{AIRFLOW_UI_PATH})"
            )

        self._airflow_thread = threading.Thread(target=start, name="mlplat-airflow", daemon=True)
        self._airflow_thread.start()

    def urls(self) -> dict[str, str]:
        """What each service is reached at, for people (the lab without its token)."""
        return {
            "mlflow": self.tracking_uri,
            "spark-connect": self.spark_remote,
            "jupyterlab": f"http://127.0.0.1:{self.lab_port}/lab",
        }

    def lab_service(self) -> Service:
        token = self._token()
        command = [
            sys.executable, "-m", "jupyterlab",
            "--no-browser",
            "--ServerApp.ip=127.0.0.1",
            f"--ServerApp.port={self.lab_port}",
            "--ServerApp.port_retries=0",
            f"--ServerApp.root_dir={self.notebook_dir}",
            f"--IdentityProvider.token={token}",
            *(["--allow-root"] if os.geteuid() == 0 else []),
            *self.lab_args,
        ]  # fmt: skip
        env = self.platform_env()
        ready = f"http://127.0.0.1:{self.lab_port}/api/status?token={token}"
        return Service("jupyterlab", command, ready, self.layout.logs / "jupyterlab.log", env)

    def start(
        self, timeout: float = 120, on_ready: Ready | None = None, on_step: Step | None = None
    ) -> dict[str, Any]:
        """Start every service and write the runtime file; stop all on failure.

        ``on_ready(name, seconds, detail)`` is called as each service becomes ready (seconds
        since launch) and when the demo data is in place; ``on_step(text)`` while it is made.
        """
        self._acquire()
        self.services = [self.mlflow_service()]
        if self.spark:
            self.services.append(self.spark_service())
        if self.lab:
            self.services.append(self.lab_service())
        timings: dict[str, float] = {}
        try:
            launched = time.monotonic()
            for service in self.services:  # all start at once; each is reported when ready
                service.start()
            for service in self._wait_all(timeout):
                seconds = time.monotonic() - launched
                timings[service.name] = round(seconds, 2)
                if on_ready is not None:
                    on_ready(service.name, seconds, self.urls().get(service.name, ""))
                if service.name == "mlflow":
                    self.ensure_tracking_user()
            if self.spark:
                started = time.monotonic()
                created = self.prepare_spark(on_step)
                seconds = time.monotonic() - started
                timings["spark-warm-up"] = round(seconds, 2)
                if on_ready is not None:
                    done = f"{len(created)} tables created" if created else "already there"
                    on_ready("demo data", seconds, f"{DEMO_DATABASE} database ({done})")
        except BaseException:
            self.stop()
            raise
        runtime = {
            "pid": os.getpid(),
            "state_dir": str(self.layout.root),
            "tracking_uri": self.tracking_uri,
            "mlflow_port": self.mlflow_port,
            "lab_port": self.lab_port,
            "spark_remote": self.spark_remote,
            "spark_port": self.spark_port,
            "spark_ui_port": self.spark_ui_port,
            "lab_url": self.lab_url if self.lab else "",
            "airflow_port": self.airflow_port,
            "airflow_url": "",  # set once Airflow runs (it starts when there are pipelines)
            "token": self._token(),
            "notebook_dir": str(self.notebook_dir),
            "pids": {s.name: s.process.pid for s in self.services if s.process},
            "startup_seconds": timings,
        }
        self.runtime = runtime
        self._write_runtime()
        ports = {k: v for k, v in runtime.items() if k.endswith("_port") and v}
        write_private(self.layout.ports, json.dumps(ports, indent=2))
        return runtime

    def _wait_all(self, timeout: float) -> Iterator[Service]:
        """The services in the order they become ready; the first failure raises."""
        pool = ThreadPoolExecutor(len(self.services), thread_name_prefix="mlplat-wait")
        try:
            waits = {pool.submit(s.wait_ready, timeout): s for s in self.services}
            for done in as_completed(waits):
                done.result()
                yield waits[done]
        finally:  # on failure stop() ends the processes, and so the other waits
            pool.shutdown(wait=False, cancel_futures=True)

    def _write_runtime(self) -> None:
        write_private(self.layout.runtime, json.dumps(self.runtime, indent=2))

    def supervise(self) -> list[str]:
        """Restart services that died, each after its backoff; say what happened.

        Raises ``ServiceError`` when a service keeps dying (see :class:`RestartBackoff`).
        """
        notes, self._notes = self._notes, []
        self._watch_pipelines()
        notes += self._revive_gateway()
        now = time.monotonic()
        for service in self.services:
            name = service.name
            if name in self._restart_at:
                if now >= self._restart_at[name]:
                    del self._restart_at[name]
                    service.start()
                    self.runtime["pids"][name] = service.process.pid if service.process else None
                    self._write_runtime()
                    notes.append(f"{name} restarted")
                continue
            if service.process is None or service.process.poll() is None:
                continue
            backoff = self._backoff.setdefault(name, RestartBackoff())
            delay = backoff.delay(now)
            if delay is None:
                raise ServiceError(
                    f"{name} crashed {len(backoff.crashes)} times in {backoff.window:.0f} s; "
                    f"last log lines:\n{service.log_tail()}"
                )
            self._restart_at[name] = now + delay
            notes.append(
                f"{name} exited with code {service.process.returncode}; restarting it in "
                f"{delay:.0f} s (crash {len(backoff.crashes)} of {backoff.limit} allowed "
                f"in {backoff.window / 60:.0f} min)"
            )
        return notes

    def _revive_gateway(self) -> list[str]:
        """The local inference gateway (started by the first local deploy) runs as long as
        something is deployed: restart it, with its last routes, when it died."""
        from jupyter_mlplat.deploy.gateway import Gateway

        gateway = Gateway(self.layout.root)
        if not gateway.routes() or gateway.running():
            return []
        try:
            url = gateway.ensure()
        except Exception as err:  # the other services must stay supervised
            return [f"the inference gateway is down and did not restart: {err}"]
        return [f"the inference gateway was not running; restarted it at {url}"]

    def stop(self) -> None:
        """Stop every service (reverse order) and release the state directory."""
        if self._airflow_thread is not None and self.airflow is not None:
            self.airflow.stop()  # also while it is still starting
        for service in reversed(self.services):
            service.stop()
        self.layout.runtime.unlink(missing_ok=True)
        if self._lock is not None:
            self._lock.close()
            self._lock = None
