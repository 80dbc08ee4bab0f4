"""IPython extension loaded into every platform kernel: the ``%mlp`` magics and MLflow set-up.

Loading it must stay cheap: nothing heavy (mlflow, pyspark, great_expectations) is imported here.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import threading
from collections.abc import Callable
from typing import Any

from jupyter_mlplat.config import API_URL_VARIABLE, MLPlat

#: Longest a cell's end waits for its lineage records (they are kept in the background anyway).
LINEAGE_FLUSH_SECONDS = 10.0


def _after_reply(task: Callable[[], None]) -> None:
    """Run ``task`` once the kernel has answered the request being handled: ipykernel runs a
    cell inside its asyncio loop, and a callback queued now runs after the ``execute_reply`` and
    the idle status are sent, so warm-ups never delay the first reply (nor contend for the GIL
    while it is sent). Outside a running loop (a plain IPython shell): at once."""
    try:
        loop = asyncio.get_running_loop()
    except RuntimeError:
        task()
    else:
        loop.call_soon(task)


def _after_first_cell(shell: Any, task: Callable[[], None]) -> Any:
    """A ``post_run_cell`` hook that runs ``task`` once, after the first cell's reply."""

    def hook(_result: Any) -> None:
        shell.events.unregister("post_run_cell", hook)
        _after_reply(task)

    return hook


def _warm_spark_client(shell: Any) -> Any:
    """After the first cell, import the Spark Connect client in the background (~1-3 s), so the
    first use of ``spark`` does not pay for it; kernel start itself stays untouched."""

    def start() -> None:
        threading.Thread(target=_import_spark_client, name="mlplat-warm", daemon=True).start()

    return _after_first_cell(shell, start)


def _import_spark_client() -> None:
    with contextlib.suppress(Exception):  # only a warm-up: the real import reports errors
        import pyspark.sql.connect.session  # noqa: F401


def _warm_quality_checks(shell: Any, notebook_path: str) -> Any:
    """After the first cell, warm great_expectations in the background if this notebook runs
    ``%%mlp check`` (read from its file): kernel start and other notebooks pay nothing."""

    def start() -> None:
        from jupyter_mlplat.quality.warm import warm_in_background

        warm_in_background(notebook_path)

    return _after_first_cell(shell, start)


class _LazyLineage:
    """The kernel's lineage capture, made when the first Spark session is: its modules are not
    imported at kernel start, and a kernel that never uses Spark never makes it."""

    def __init__(self, config: MLPlat) -> None:
        self._config = config
        self._capture: Any = None

    def _get(self) -> Any:
        if self._capture is None:
            from jupyter_mlplat.lineage.capture import LineageCapture

            self._capture = LineageCapture(self._config, send=_lineage_events_to_server())
        return self._capture

    def hook(self, session: Any) -> Any:
        return self._get().hook(session)

    def progress(self, **kwargs: Any) -> None:
        self._get().progress(**kwargs)

    def flush(self, timeout: float) -> bool:
        return self._capture is None or bool(self._capture.flush(timeout))


def load_ipython_extension(shell: Any) -> None:
    """Register ``%mlp`` and wire MLflow configuration to the first import of MLflow."""
    from jupyter_mlplat.kernel.import_hooks import when_imported
    from jupyter_mlplat.kernel.magics import MLPMagics, spark_progress_bar
    from jupyter_mlplat.spark.session import LazySpark, SparkSessions, reattach_if_restarted
    from jupyter_mlplat.tracking.session import end_run_before_restart, on_import

    config = MLPlat()
    extensions = []
    if config.lineage:
        capture = _LazyLineage(config)
        extensions.append(capture)
        # what a cell's Spark actions read and wrote is in MLflow when the cell ends
        shell.events.register("post_run_cell", lambda _result: capture.flush(LINEAGE_FLUSH_SECONDS))
    sessions = SparkSessions(config, progress=spark_progress_bar, extensions=extensions)
    shell.register_magics(MLPMagics(shell, config=config, spark=sessions))
    if config.tracking_uri:
        when_imported(config.autolog_triggers, on_import(config))
    if sessions.provides_session and "spark" not in shell.user_ns:
        shell.user_ns["spark"] = LazySpark(sessions, shell.user_ns)

    if sessions.through_sparkmagic and "spark" not in shell.magics_manager.magics["cell"]:
        from jupyter_mlplat.kernel.livy import LivySpark

        LivySpark(shell).register()  # %%spark on the configured endpoint (sparkmagic, lazily)

    if sessions.provides_session:
        shell.events.register("post_run_cell", _warm_spark_client(shell))

    if os.environ.get(API_URL_VARIABLE):  # completion asks the server: none without its API
        from jupyter_mlplat.kernel.completion import register as register_completion

        register_completion(shell)  # catalog names on Tab in spark.table("…"), spark.sql("…"), SQL

    if config.notebook_path:
        shell.events.register("post_run_cell", _warm_quality_checks(shell, config.notebook_path))

    def before_cell(info: Any) -> None:
        cell = info.raw_cell or ""
        notice = end_run_before_restart(cell)
        if notice:
            print(notice)
        reattach_if_restarted(sessions, shell.user_ns, cell)

    shell.events.register("pre_run_cell", before_cell)


def _lineage_events_to_server() -> Any:
    """Where this kernel's OpenLineage events go: to the Jupyter server (which keeps the JSON
    lines and knows the endpoint), when the server gave the kernel its API; else None (a kernel
    started some other way writes them itself)."""
    if not os.environ.get(API_URL_VARIABLE):
        return None

    def send(events: list[dict[str, Any]]) -> None:
        from jupyter_mlplat.kernel.platform_api import PlatformApi

        PlatformApi().call("POST", "lineage/events", {"events": events}, timeout=10)

    return send
