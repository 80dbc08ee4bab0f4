"""Livy mode: Spark through sparkmagic (``%%spark`` cells), configured from ``MLPlat``.

sparkmagic reads ``$SPARKMAGIC_CONF_DIR/config.json``; :func:`sparkmagic_config` builds it from the
same settings as the other modes (Livy URL in ``spark_remote``, driver/executor sizes, dynamic
allocation, ``spark_conf``), so switching a platform to Livy changes no notebook setting.
"""

from __future__ import annotations

import base64
import json
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, Unavailable
from jupyter_mlplat.infra.files import write_private
from jupyter_mlplat.spark.backends import SparkBackend, SparkEndpoint
from jupyter_mlplat.spark.kubernetes import parse_spark_conf

CONFIG_FILE = "config.json"


def sparkmagic_config(config: MLPlat) -> dict[str, Any]:
    """What sparkmagic reads from ``config.json`` (key names of sparkmagic 0.21+)."""
    credentials = {"url": livy_url(config), "auth": config.livy_auth, **_login(config)}
    dynamic_allocation = {
        "spark.dynamicAllocation.enabled": "true",
        "spark.dynamicAllocation.minExecutors": str(config.spark_executors_min),
        "spark.dynamicAllocation.maxExecutors": str(config.spark_executors_max),
        "spark.dynamicAllocation.shuffleTracking.enabled": "true",
    }
    return {
        "kernel_python_credentials": credentials,
        "kernel_scala_credentials": dict(credentials),
        "session_configs": {  # the body of Livy's POST /sessions
            "driverMemory": config.spark_driver_memory,
            "driverCores": config.spark_driver_cores,
            "executorMemory": config.spark_executor_memory,
            "executorCores": config.spark_executor_cores,
            "conf": dynamic_allocation | parse_spark_conf(config.spark_conf),
        },
        "livy_session_startup_timeout_seconds": config.spark_ready_timeout,
        "wait_for_idle_timeout_seconds": 15,
        # a kernel heartbeats its sessions; Livy ends the sessions of kernels that died
        "heartbeat_refresh_seconds": 30,
        "heartbeat_retry_seconds": 10,
        "livy_server_heartbeat_timeout_seconds": 60,
        "cleanup_all_sessions_on_exit": True,
        "ignore_ssl_errors": False,
        "retry_policy": "configurable",
        "retry_seconds_to_sleep_list": [0.2, 0.5, 1, 3, 5],
        "configurable_retry_policy_max_retries": 8,
    }


def write_sparkmagic_config(config: MLPlat, directory: Path | str) -> Path:
    """Write ``config.json`` for sparkmagic into ``directory``, readable only by its owner (it
    may carry the Livy password); point ``SPARKMAGIC_CONF_DIR`` at ``directory``."""
    content = json.dumps(sparkmagic_config(config), indent=2)
    directory = Path(directory)
    directory.mkdir(mode=0o700, parents=True, exist_ok=True)
    return write_private(directory / CONFIG_FILE, content)


def livy_url(config: MLPlat) -> str:
    """The Livy endpoint (``spark_remote``), checked to be an http(s) URL."""
    url = config.spark_remote.rstrip("/")
    if not url:
        raise Unavailable(
            "no Livy endpoint is configured (MLP_SPARK_REMOTE, e.g. http://livy:8998)"
        )
    if urlparse(url).scheme not in ("http", "https"):
        raise InvalidInput(f"the Livy endpoint must be an http(s) URL, not {url!r}")
    return url


def _login(config: MLPlat) -> dict[str, str]:
    """Username and base64 password for ``Basic_Access``; Kerberos and None need neither."""
    if config.livy_auth != "Basic_Access":
        return {"username": "", "base64_password": ""}
    if not config.livy_username or not config.livy_password_file:
        raise InvalidInput("Livy Basic_Access needs MLP_LIVY_USERNAME and MLP_LIVY_PASSWORD_FILE")
    try:
        password = Path(config.livy_password_file).expanduser().read_text().rstrip("\r\n")
    except OSError as err:
        raise InvalidInput(f"cannot read the Livy password file: {err}") from err
    encoded = base64.b64encode(password.encode()).decode()
    return {"username": config.livy_username, "base64_password": encoded}


class LivyBackend(SparkBackend):
    """``spark_mode = livy``: no Spark Connect; notebooks use ``%%spark`` (sparkmagic), whose
    session the kernel opens from the configuration (:mod:`jupyter_mlplat.kernel.livy`)."""

    name = "livy"
    provides_session = False
    through_sparkmagic = True
    probe_timeout = 2.0

    def __init__(self, config: MLPlat) -> None:
        self.config = config

    def endpoint(
        self, timeout: float | None = None, on_progress: Callable[[str], None] | None = None
    ) -> SparkEndpoint:
        raise Unavailable(
            "Spark runs through Livy on this platform: there is no Spark Connect `spark`; "
            "write %%spark cells (sparkmagic, on the configured Livy endpoint)"
        )

    def state(self) -> dict[str, Any]:
        """Whether Livy answers ``GET /sessions`` (any HTTP answer means reachable)."""
        try:
            url = livy_url(self.config)
        except (Unavailable, InvalidInput) as err:
            return {"state": "not-configured", "error": str(err)}
        probe = f"{url}/sessions"  # http(s) only: livy_url() checked
        try:
            with urllib.request.urlopen(probe, timeout=self.probe_timeout) as answer:  # noqa: S310
                sessions = json.load(answer).get("total")
            return {"state": "reachable", "endpoint": url, "sessions": sessions}
        except urllib.error.HTTPError as err:  # e.g. 401 before authentication: it is there
            return {"state": "reachable", "endpoint": url, "http_status": err.code}
        except (OSError, ValueError) as err:
            return {"state": "unreachable", "endpoint": url, "error": str(err)}

    def kernel_environment(self) -> dict[str, str]:
        """Point the kernel's sparkmagic at a config written from this platform's settings."""
        from jupyter_core.paths import jupyter_runtime_dir

        directory = Path(jupyter_runtime_dir()) / "mlplat-sparkmagic"
        write_sparkmagic_config(self.config, directory)
        return {"SPARKMAGIC_CONF_DIR": str(directory)}

    def shutdown(self) -> None:
        """Nothing to delete: sparkmagic ends its Livy sessions when the kernel exits."""
