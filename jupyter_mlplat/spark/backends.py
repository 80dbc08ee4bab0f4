"""Where a kernel's Spark comes from: the backend named by ``MLPlat.spark_mode``.

A backend answers three questions: where is the Spark Connect endpoint (starting a session first
if the mode needs one), what state is it in, and how to let go of what it created.
"""

from __future__ import annotations

from abc import abstractmethod
from dataclasses import dataclass, field
from typing import Any, ClassVar
from urllib.parse import urlparse

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, Unavailable
from jupyter_mlplat.infra.plugins import Backend


@dataclass(frozen=True)
class SparkEndpoint:
    """A reachable Spark Connect server."""

    remote: str  # sc://host:port[/;token=...]
    ui_url: str = ""  # Spark UI, when known
    details: dict[str, Any] = field(default_factory=dict)


class SparkBackend(Backend):
    """What the lazy ``spark`` handle and the status surfaces need from a mode."""

    kind = "spark"
    noun = "Spark mode"
    #: Whether kernels get a Spark Connect ``spark`` from this backend (Livy mode runs Spark
    #: through sparkmagic's ``%%spark`` cells instead; ``none`` has no Spark at all).
    provides_session: ClassVar[bool] = True
    #: Whether notebooks reach Spark through sparkmagic's ``%%spark`` cells (Livy).
    through_sparkmagic: ClassVar[bool] = False

    @abstractmethod
    def endpoint(self, timeout: float | None = None) -> SparkEndpoint:
        """The Connect endpoint, creating and waiting for a session if the mode needs one."""

    @abstractmethod
    def state(self) -> dict[str, Any]:
        """A JSON-able description: ``{"state": "ready" | "starting" | "stopped" | ..., ...}``."""

    def shutdown(self) -> None:
        """Delete whatever this backend created (idempotent)."""


class ConnectBackend(SparkBackend):
    """An existing Spark Connect endpoint (``connect`` mode)."""

    name = "connect"

    def endpoint(self, timeout: float | None = None) -> SparkEndpoint:
        if not self.config.spark_remote:
            raise Unavailable(
                "no Spark Connect endpoint is configured (MLP_SPARK_REMOTE, e.g. sc://host:15002)"
            )
        return SparkEndpoint(self.config.spark_remote, ui_url=self.config.spark_ui_url)

    def state(self) -> dict[str, Any]:
        remote = self.config.spark_remote
        if not remote:
            return {"state": "not-configured"}
        from jupyter_mlplat.infra.processes import port_open  # not at kernel start (urllib)

        host, port = _host_port(remote)
        return {
            "state": "ready" if port_open(host, port) else "unreachable",
            "endpoint": _without_token(remote),
            "ui_url": self.config.spark_ui_url,
        }


class LocalBackend(ConnectBackend):
    """The local platform's Spark Connect server (``mlplat up`` sets ``spark_remote``)."""

    name = "local"


class DisabledBackend(SparkBackend):
    """``spark_mode = none``."""

    name = "none"
    provides_session = False

    def endpoint(self, timeout: float | None = None) -> SparkEndpoint:
        raise Unavailable("Spark is turned off on this platform (MLP_SPARK_MODE=none)")

    def state(self) -> dict[str, Any]:
        return {"state": "disabled"}


def backend_for(config: MLPlat) -> SparkBackend:
    """The backend of ``config.spark_mode``."""
    return SparkBackend.create(config.spark_mode, config)


def _host_port(remote: str) -> tuple[str, int]:
    parsed = urlparse(remote.replace("sc://", "http://", 1))
    if not parsed.hostname:
        raise InvalidInput(f"not a Spark Connect URL: {remote!r}")
    return parsed.hostname, parsed.port or 15002


def _without_token(remote: str) -> str:
    return remote.split("/;", 1)[0].split(";", 1)[0]
