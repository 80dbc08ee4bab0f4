"""The ``spark`` of every kernel: attaches on first use, re-attaches after a server restart."""

from __future__ import annotations

import os
import re
import sys
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import MLPlatError
from jupyter_mlplat.spark.backends import SparkBackend, SparkEndpoint, backend_for

USES_SPARK = re.compile(r"\bspark\b")

#: Makes the handler given to ``registerProgressHandler`` of each new session (called with
#: ``stages, inflight_tasks, operation_id, done``); the kernel's renders a bar in the cell.
ProgressHandlerFactory = Callable[[], Callable[..., None]]


class SessionExtension(Protocol):
    """Follows every operation of the sessions it is given (e.g. lineage capture)."""

    def hook(self, session: Any) -> Any:
        """A ``SparkSession.Hook`` for a new session (``on_execute_plan(request)``)."""

    def progress(self, **kwargs: Any) -> None:
        """A progress handler (``stages, inflight_tasks, operation_id, done``) of the session."""


class SparkSessions:
    """Creates, checks and replaces this kernel's Spark Connect session."""

    def __init__(
        self,
        config: MLPlat,
        backend: SparkBackend | None = None,
        progress: ProgressHandlerFactory | None = None,
        extensions: Sequence[SessionExtension] = (),
    ) -> None:
        self.config = config
        self._backend = backend
        self._progress = progress
        self.extensions = list(extensions)
        self.session: Any = None
        self.endpoint: SparkEndpoint | None = None
        self.attach_seconds = 0.0

    @property
    def backend(self) -> SparkBackend:
        if self._backend is None:
            self._backend = backend_for(self.config)
        return self._backend

    @property
    def backend_class(self) -> type[SparkBackend] | None:
        """The configured backend's class (what it provides is known without constructing or
        contacting anything); None for a mode that does not resolve (reported where Spark is
        used, not at kernel start)."""
        if self._backend is not None:
            return type(self._backend)
        try:
            return SparkBackend.resolve(self.config.spark_mode)
        except MLPlatError:
            return None

    @property
    def provides_session(self) -> bool:
        """Whether the configured mode gives kernels a Spark Connect ``spark``."""
        return bool(self.backend_class and self.backend_class.provides_session)

    @property
    def through_sparkmagic(self) -> bool:
        """Whether the configured mode runs Spark through sparkmagic's ``%%spark`` (Livy)."""
        return bool(self.backend_class and self.backend_class.through_sparkmagic)

    def attach(self) -> Any:
        """Connect to the configured Spark (starting a session if the mode needs one)."""
        started = time.monotonic()
        self.endpoint = self.backend.endpoint()
        from pyspark.sql import SparkSession

        if self.extensions:
            # hooks are registered on Connect's own builder (called before each execution)
            from pyspark.sql.connect.session import SparkSession as ConnectSession

            os.environ["SPARK_CONNECT_MODE_ENABLED"] = "1"  # as the generic builder marks it
            connect = ConnectSession.builder.remote(self.endpoint.remote)
            for extension in self.extensions:
                connect._registerHook(extension.hook)
            session: Any = connect.create()
        else:
            session = SparkSession.builder.remote(self.endpoint.remote).create()
        for extension in self.extensions:
            session.registerProgressHandler(extension.progress)
        if self._progress is not None:
            session.conf.set(
                "spark.connect.progress.reportInterval", self.config.spark_progress_interval
            )
            session.registerProgressHandler(self._progress())
        self.session = session
        self.attach_seconds = time.monotonic() - started
        return session

    def alive(self) -> bool:
        """Whether the current session still answers (a cheap round trip)."""
        if self.session is None:
            return False
        try:
            # a config read is a real round trip (``version`` is cached by the client)
            self.session.conf.get("spark.sql.session.timeZone")
            return not self.session.is_stopped
        except Exception:
            return False


class LazySpark:
    """Stands in for ``spark`` until first used, then puts the real session in its place."""

    def __init__(self, sessions: SparkSessions, namespace: dict[str, Any]) -> None:
        self._sessions = sessions
        self._namespace = namespace

    def _attach(self) -> Any:
        session = self._sessions.attach()
        if self._namespace.get("spark") is self:
            self._namespace["spark"] = session
        return session

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        return getattr(self._sessions.session or self._attach(), name)

    def __repr__(self) -> str:
        return f"<spark: not attached yet ({self._sessions.config.spark_mode}); used on first call>"


def reattach_if_restarted(sessions: SparkSessions, namespace: dict[str, Any], cell: str) -> None:
    """Before a cell that uses ``spark``: if its server went away, attach a new session."""
    current: Any = sessions.session
    if current is None or not USES_SPARK.search(cell):
        return
    if namespace.get("spark") is not current or sessions.alive():
        return
    old_id = str(getattr(current, "session_id", "?"))
    try:
        new = sessions.attach()
    except Exception as err:
        print(f"mlplat: the Spark session is gone and re-attaching failed: {err}", file=sys.stderr)
        return
    namespace["spark"] = new
    print(
        f"mlplat: the Spark server restarted; attached a new session ({new.session_id[:8]}, "
        f"was {old_id[:8]}). DataFrames from before must be re-created.",
        file=sys.stderr,
    )
