"""``%mlp spark [attach]``: the kernel's Spark session, its UI and executors."""

from __future__ import annotations

import json
import urllib.request
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.render import Report


def parser() -> ArgumentParser:
    p = ArgumentParser("spark")
    p.add_argument("action", nargs="?", choices=["attach"], help="attach now (else: first use)")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> Report:
    """Report on (and with ``attach``, attach) this kernel's Spark session."""
    if args not in ([], ["attach"]):
        raise UsageError("usage: %mlp spark [attach]")
    sessions = magics.spark
    if args == ["attach"] and sessions.session is None:
        magics.shell.user_ns["spark"] = sessions.attach()
    config = magics.mlplat
    report = Report("Spark")
    state = sessions.backend.state()
    report.add("Session", "mode", config.spark_mode)
    report.add("Session", "state", state.get("state", "unknown"),
               "ok" if state.get("state") == "ready" else "warn")  # fmt: skip
    if state.get("endpoint"):
        report.add("Session", "endpoint", state["endpoint"])
    session = sessions.session
    if session is None:
        report.add("Session", "attached", "not yet (first use of `spark` attaches)")
    else:
        report.add("Session", "attached", f"yes, in {sessions.attach_seconds:.2f} s", "ok")
        report.add("Session", "session id", session.session_id)
        report.add("Session", "Spark version", session.version)
    ui = (sessions.endpoint.ui_url if sessions.endpoint else "") or config.spark_ui_url
    if ui:
        report.add("Spark UI", "url", ui)
        for line in _executors(ui):
            report.add("Spark UI", *line)
    return report


def _executors(ui_url: str) -> list[tuple[str, str]]:
    """Executors from the Spark UI's REST API (empty when it does not answer)."""
    try:
        apps = _get_json(f"{ui_url}/api/v1/applications")
        executors = _get_json(f"{ui_url}/api/v1/applications/{apps[0]['id']}/executors")
    except (OSError, ValueError, LookupError):
        return []
    rows = []
    for executor in executors:
        rows.append(
            (
                f"executor {executor['id']}",
                f"{executor.get('totalCores', '?')} cores, "
                f"{executor.get('maxMemory', 0) / 2**20:.0f} MiB storage memory, "
                f"{executor.get('activeTasks', 0)} active tasks, "
                f"{executor.get('completedTasks', 0)} tasks done",
            )
        )
    return rows


def _get_json(url: str) -> Any:
    if not url.startswith(("http://", "https://")):
        raise ValueError(url)
    with urllib.request.urlopen(url, timeout=2) as response:  # noqa: S310 - http(s) only
        return json.loads(response.read())
