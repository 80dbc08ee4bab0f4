"""The embedded Airflow of the local platform, and a small client of Airflow's REST API v2.

The embedded Airflow is sized for one user: SQLite under the state directory, LocalExecutor with
two workers, one API-server worker, one DAG parser, no triggerer and no log-serving process
(the API server reads the task logs from the shared log folder). Everything listens on loopback
and the API server lets every request in as admin (like the platform's MLflow): the Jupyter
server's proxy (``/mlplat/airflow/``) is what authenticates the browser.

Airflow itself is only imported by the processes started here, never by this module.
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from jupyter_mlplat.errors import InvalidInput, MLPlatError, NotFound, Unavailable
from jupyter_mlplat.infra.processes import Service, ServiceError, log_tail

#: Where the Jupyter server proxies the Airflow UI, relative to its base URL.
AIRFLOW_UI_PATH = "mlplat/airflow/"

#: Files in a pipelines folder that make the platform start Airflow.
DAG_FILE_GLOB = "*.py"


#: Every task of a pipeline that sets none of its own: one retry after 30 s, so a task whose
#: process dies (killed, out of memory, a node lost) is run again. Airflow's defaults are 0 and
#: 300 s; the platform's environment may set others (the tests use a few seconds).
TASK_DEFAULTS = {
    "AIRFLOW__CORE__DEFAULT_TASK_RETRIES": "1",
    "AIRFLOW__CORE__DEFAULT_TASK_RETRY_DELAY": "30",
}


#: SQLite lets one process write at a time; the others wait up to this many seconds (sqlite3's
#: default, 5 s, made the runs API answer 500 "database is locked" while a task was being
#: retried: the API server writes an audit row per POST while scheduler and task write too).
SQLITE_CONNECT_ARGS: dict[str, Any] = {"timeout": 30}


def has_dag_files(folder: Path) -> bool:
    """Whether ``folder`` holds a Python file Airflow would parse (the cue to start Airflow)."""
    try:
        return any(
            p.is_file() and not p.name.startswith(("_", ".")) for p in folder.glob(DAG_FILE_GLOB)
        )
    except OSError:
        return False


@dataclass
class EmbeddedAirflow:
    """Scheduler + DAG processor + API server under ``home``, parsing ``dags_folder``.

    ``env`` is the platform's environment for task processes (``MLP_*``: tracking URI, Spark
    Connect, user); ``ui_base_url`` is the URL the browser reaches the UI at (the Jupyter proxy).
    """

    home: Path
    dags_folder: Path
    port: int
    env: Mapping[str, str] = field(default_factory=dict)
    ui_base_url: str = ""
    parallelism: int = 2
    log_dir: Path | None = None  # the processes' own logs (default: <home>/processes)
    services: list[Service] = field(default_factory=list)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def logs(self) -> Path:
        return self.home / "logs"

    def _secrets(self) -> dict[str, str]:
        """Keys every Airflow process must share (JWTs between scheduler, workers and API)."""
        path = self.home / "secrets.json"
        if not path.exists():
            self.home.mkdir(parents=True, exist_ok=True)
            path.write_text(
                json.dumps({"jwt": secrets.token_urlsafe(32), "key": secrets.token_urlsafe(32)})
            )
            path.chmod(0o600)
        return dict(json.loads(path.read_text()))

    def environment(self) -> dict[str, str]:
        """The ``AIRFLOW__*`` settings of every process (on top of the platform's env)."""
        keys = self._secrets()
        base_url = self.ui_base_url.rstrip("/") or self.url
        base_path = urllib.parse.urlsplit(base_url).path.rstrip("/")
        settings = {
            "core": {
                "dags_folder": str(self.dags_folder),
                "executor": "LocalExecutor",
                "parallelism": str(self.parallelism),
                "max_active_tasks_per_dag": str(self.parallelism),
                "load_examples": "False",
                # a pipeline written by the user is meant to run on its schedule
                "dags_are_paused_at_creation": "False",
                "simple_auth_manager_all_admins": "True",
                # under the base URL's path, as Airflow mounts its execution API there
                "execution_api_server_url": f"{self.url}{base_path}/execution/",
            },
            "database": {
                "sql_alchemy_conn": f"sqlite:///{self.home / 'airflow.db'}",
                "sql_alchemy_connect_args": f"{__name__}.SQLITE_CONNECT_ARGS",
            },
            "api": {
                "host": "127.0.0.1",
                "port": str(self.port),
                "workers": "1",
                "base_url": base_url,
                "secret_key": keys["key"],
                "expose_config": "False",
            },
            "api_auth": {"jwt_secret": keys["jwt"]},
            "dag_processor": {
                "parsing_processes": "1",
                # a DAG file written from a notebook should show up within seconds
                "refresh_interval": "5",
                "min_file_process_interval": "20",
                "stale_dag_threshold": "30",
            },
            "scheduler": {"enable_health_check": "False"},
            "logging": {"base_log_folder": str(self.logs), "colored_console_log": "False"},
            "triggerer": {"default_capacity": "10"},
        }
        env = {
            f"AIRFLOW__{section.upper()}__{key.upper()}": value
            for section, options in settings.items()
            for key, value in options.items()
        }
        return {
            **TASK_DEFAULTS,
            **self.env,  # AIRFLOW__CORE__DEFAULT_TASK_RETR* in the platform's environment win
            **env,
            "AIRFLOW_HOME": str(self.home),
            "NO_PROXY": "127.0.0.1,localhost",
            "no_proxy": "127.0.0.1,localhost",
            "PYTHONUNBUFFERED": "1",
        }

    def _command(self, *args: str) -> list[str]:
        return [sys.executable, "-m", "airflow", *args]

    def migrate(self, timeout: float = 300) -> float:
        """Create or upgrade Airflow's database; return the seconds it took."""
        self.home.mkdir(parents=True, exist_ok=True)
        self.dags_folder.mkdir(parents=True, exist_ok=True)
        log = self.home / "migrate.log"
        started = time.monotonic()
        with log.open("wb") as out:
            done = subprocess.run(
                self._command("db", "migrate"),
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **self.environment()},
                timeout=timeout,
                check=False,
            )
        if done.returncode != 0:
            raise ServiceError(f"airflow db migrate failed:\n{log_tail(log)}")
        # write-ahead log: the API server's reads no longer wait for the scheduler's and the
        # DAG processor's writes (the mode stays with the database file)
        with contextlib.closing(sqlite3.connect(self.home / "airflow.db")) as db:
            db.execute("PRAGMA journal_mode=WAL")
        return time.monotonic() - started

    def build_services(self) -> list[Service]:
        env = self.environment()
        health = f"{self.url}/api/v2/monitor/health"
        logs = self.log_dir or self.home / "processes"
        return [
            Service(
                "airflow-api",
                self._command("api-server", "--workers", "1", "--port", str(self.port)),
                health,
                logs / "airflow-api.log",
                env,
                cwd=self.home,
            ),
            Service(
                "airflow-scheduler",
                self._command("scheduler", "--skip-serve-logs"),
                health,
                logs / "airflow-scheduler.log",
                env,
                cwd=self.home,
            ),
            Service(
                "airflow-dag-processor",
                self._command("dag-processor"),
                health,
                logs / "airflow-dag-processor.log",
                env,
                cwd=self.home,
            ),
        ]

    def start(self, timeout: float = 180) -> dict[str, float]:
        """Migrate, start the three processes and wait until the scheduler reports healthy."""
        timings = {"airflow-db": round(self.migrate(), 2)}
        self.services = self.build_services()
        started = time.monotonic()
        try:
            for service in self.services:
                service.start()
            self.services[0].wait_ready(timeout)
            self.wait_healthy(timeout - (time.monotonic() - started))
        except BaseException:
            self.stop()
            raise
        timings["airflow"] = round(time.monotonic() - started, 2)
        return timings

    def wait_healthy(self, timeout: float) -> None:
        """Wait until the API server reports the scheduler and the DAG processor healthy."""
        client = AirflowClient(self.url)
        deadline = time.monotonic() + max(timeout, 1)
        status: dict[str, Any] = {}
        while time.monotonic() < deadline:
            for service in self.services:
                if service.process is not None and service.process.poll() is not None:
                    raise ServiceError(
                        f"{service.name} exited with code {service.process.returncode}:\n"
                        f"{service.log_tail()}"
                    )
            try:
                status = client.get("/api/v2/monitor/health")
            except MLPlatError:
                status = {}
            parts = ("scheduler", "dag_processor")
            if all(status.get(p, {}).get("status") == "healthy" for p in parts):
                return
            time.sleep(0.5)
        raise ServiceError(f"Airflow not healthy after {timeout:.0f} s: {status}")

    def stop(self) -> None:
        for service in reversed(self.services):
            service.stop()

    def pids(self) -> dict[str, int]:
        return {s.name: s.process.pid for s in self.services if s.process is not None}


class AirflowClient:
    """Airflow's REST API v2 (``/api/v2``): the few calls the pipelines service makes.

    ``token`` is a bearer token for a shared Airflow (the embedded one needs none).
    """

    def __init__(self, url: str, token: str = "", timeout: float = 60) -> None:
        self.url = url.rstrip("/")
        self.token = token
        self.timeout = timeout

    def request(self, method: str, path: str, body: Any = None, *, raw: bool = False) -> Any:
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(self.url + path, data=data, method=method)  # noqa: S310
        request.add_header("Accept", "text/plain" if raw else "application/json")
        if data is not None:
            request.add_header("Content-Type", "application/json")
        if self.token:
            request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:  # noqa: S310
                payload = response.read()
        except urllib.error.HTTPError as err:
            raise _api_error(err) from None
        except (urllib.error.URLError, OSError) as err:
            raise Unavailable(f"Airflow is not reachable at {self.url}: {_reason(err)}") from None
        if raw:
            return payload.decode(errors="replace")
        return json.loads(payload) if payload else {}

    def get(self, path: str, **params: Any) -> Any:
        query = {k: v for k, v in params.items() if v is not None}
        if query:
            path += "?" + urllib.parse.urlencode(query, doseq=True)
        return self.request("GET", path)

    def post(self, path: str, body: Any) -> Any:
        return self.request("POST", path, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, body)


def quote(value: str) -> str:
    """A path segment of the API (DAG and run ids may hold ``:`` and ``+``)."""
    return urllib.parse.quote(value, safe="")


def _reason(err: BaseException) -> str:
    return str(getattr(err, "reason", err))


def _api_error(err: urllib.error.HTTPError) -> MLPlatError:
    try:
        detail = json.loads(err.read() or b"{}").get("detail", "")
    except (ValueError, AttributeError):
        detail = ""
    if isinstance(detail, list):  # validation errors: [{"loc": ..., "msg": ...}]
        detail = "; ".join(str(d.get("msg", d)) for d in detail if isinstance(d, dict))
    message = f"Airflow: {detail or err.reason}"
    if err.code == 404:
        return NotFound(message)
    if err.code in (400, 409, 422):
        return InvalidInput(message)
    if err.code in (401, 403):
        return Unavailable(f"{message} (check MLP_AIRFLOW_TOKEN)")
    return Unavailable(message)
