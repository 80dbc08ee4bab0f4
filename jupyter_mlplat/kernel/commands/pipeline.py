"""``%mlp pipeline``: Airflow pipelines from a notebook.

%%mlp pipeline NAME [--schedule @daily|"<cron>"|table:db.t]   (a cell of @task functions)
%mlp pipeline new --template classification --table demo.iris --label species [--name N]
%mlp pipeline run NAME        (dag.test() in a subprocess; a live per-task table in the cell)
%mlp pipeline list | trigger NAME | pause NAME | unpause NAME   (the server's Airflow)
%mlp pipeline publish NAME|FILE   (to the team's Airflow on Kubernetes; a cell or template
                                   written in that mode is published at once)
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from html import escape
from pathlib import Path
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.render import Report

#: Airflow's own state colours, so the cell, the panel and the Airflow UI agree.
#: Airflow 3's state colours (its UI theme; the lab's Pipelines panel uses the same).
STATE_COLOURS = {
    "success": "oklch(0.47 0.2 149)",
    "running": "oklch(0.609 0.126 221.723)",
    "failed": "oklch(0.577 0.245 27.325)",
    "upstream_failed": "oklch(0.666 0.179 58.318)",
    "up_for_retry": "oklch(0.681 0.162 75.834)",
    "skipped": "oklch(0.592 0.249 0.584)",
    "queued": "oklch(0.444 0.011 73.639)",
    "scheduled": "oklch(0.442 0.017 285.786)",
    "removed": "oklch(0.446 0.043 257.281)",
}
SUBCOMMANDS = ("new", "run", "list", "trigger", "pause", "unpause", "publish")


def run(magics: Any, args: list[str], cell: str | None) -> Any:
    if cell is not None:
        return write_cell(magics, args, cell)
    if not args or args[0] not in SUBCOMMANDS:
        given = f" {args[0]!r}" if args else ""
        raise UsageError(
            f"%mlp pipeline: unknown subcommand{given}: use {', '.join(SUBCOMMANDS)}, "
            "or %%mlp pipeline NAME on a cell of @task functions"
        )
    sub, rest = args[0], args[1:]
    if sub == "new":
        return new(magics, rest)
    if sub == "run":
        return run_now(magics, rest)
    if sub == "list":
        ArgumentParser("pipeline list").parse_args(rest)
        return listing()
    if sub == "publish":
        return publish(magics, rest)
    return change(sub, rest)


def write_cell(magics: Any, args: list[str], cell: str) -> Report:
    """The cell becomes ``<pipelines>/<NAME>.py`` once Airflow imports it."""
    parser = ArgumentParser("pipeline")
    parser.add_argument("name")
    parser.add_argument("--schedule", default=None)
    options = parser.parse_args(args)
    from jupyter_mlplat.pipelines.project import write_from_cell

    written = write_from_cell(options.name, cell, options.schedule, magics.mlplat)
    report = Report(f"Pipeline {written.name}")
    report.add("Written", "DAG file", written.path, "ok")
    report.add("Written", "schedule", options.schedule or "none (run it or trigger it)")
    report.add("Written", "owner", magics.mlplat.resolved_user)
    published(report, magics, written)
    report.add("Next", "run now", f"%mlp pipeline run {written.name}")
    return report


def new(magics: Any, args: list[str]) -> Report:
    parser = ArgumentParser("pipeline new")
    parser.add_argument("--template", required=True)
    parser.add_argument("--table", required=True)
    parser.add_argument("--label", default="")
    parser.add_argument("--name", default="")
    parser.add_argument("--schedule", default=None)
    parser.add_argument("--model", default="", help="batch-scoring: models:/<name>@champion")
    parser.add_argument("--output", default="", help="table the predictions are written to")
    options = parser.parse_args(args)
    if not magics.spark.provides_session:
        raise UsageError("%mlp pipeline new needs the platform's Spark to read the table")
    from jupyter_mlplat.pipelines.templates import new_pipeline

    written = new_pipeline(
        options.template,
        options.table,
        options.label,
        spark=magics.spark.session or magics.spark.attach(),
        name=options.name,
        schedule=options.schedule,
        model=options.model,
        output=options.output,
        config=magics.mlplat,
    )
    report = Report(f"Pipeline {written.name} ({options.template})")
    report.add("Written", "DAG file", written.path, "ok")
    report.add("Written", "feature config", written.config or "")
    report.add("Written", "quality suite", written.name)
    published(report, magics, written)
    report.add("Next", "run now", f"%mlp pipeline run {written.name}")
    return report


def published(report: Report, magics: Any, written: Any) -> None:
    """On the cluster, a written pipeline goes to the team's Airflow at once (as the local
    Airflow sees a written file at once); locally there is nothing to do."""
    if magics.mlplat.pipelines_publish == "folder":
        return
    from jupyter_mlplat.pipelines.cluster import publish_file

    done = publish_file(magics.mlplat, written.path, dag_ids=written.dag_ids)
    add_published(report, done)


def publish(magics: Any, args: list[str]) -> Report:
    """``%mlp pipeline publish NAME|FILE``: a pipeline of the folder by name, or a .py file."""
    parser = ArgumentParser("pipeline publish")
    parser.add_argument("pipeline", help="a pipeline's name, or the path of its .py file")
    target = parser.parse_args(args).pipeline
    from jupyter_mlplat.pipelines.cluster import publish_file
    from jupyter_mlplat.pipelines.project import pipeline_path

    if target.endswith(".py") or "/" in target:
        path = Path(target).expanduser()
    else:
        path = pipeline_path(magics.mlplat, target)
    report = Report(f"Pipeline {path.stem}")
    add_published(report, publish_file(magics.mlplat, path))
    return report


def add_published(report: Report, done: dict[str, Any]) -> None:
    """The rows of what :func:`~jupyter_mlplat.pipelines.cluster.publish_file` answered."""
    if done["mode"] == "folder":
        report.add("Published", "local Airflow", done["message"])
        return
    report.add("Published", "namespace", done["namespace"], "ok")
    report.add("Published", "ConfigMaps", ", ".join(done["configmaps"]))
    report.add("Published", "DAGs", ", ".join(done["dag_ids"]) or "none found")
    report.add("Published", "Airflow folder", f"<dags>/{done['folder']}")


def run_now(magics: Any, args: list[str]) -> None:
    parser = ArgumentParser("pipeline run")
    parser.add_argument("name")
    options = parser.parse_args(args)
    from IPython.display import HTML, display

    from jupyter_mlplat.pipelines.runner import run_now as start

    view = RunView(options.name)
    handle = display(HTML(view.html()), display_id=True)

    def on_event(event: dict[str, Any]) -> None:
        view.apply(event)
        if handle is not None:
            handle.update(HTML(view.html()))

    try:
        result = start(options.name, on_event, magics.mlplat)
    except KeyboardInterrupt:
        raise UsageError(f"%mlp pipeline run {options.name}: stopped") from None
    view.finish(result.state, result.seconds, result.log)
    if handle is not None:
        handle.update(HTML(view.html()))
    if result.state != "success":
        raise UsageError(
            f"%mlp pipeline run {options.name}: {result.state}: "
            f"{result.error or 'see the log'} (log: {result.log})"
        )


def listing() -> Report:
    from jupyter_mlplat.kernel.platform_api import PlatformApi

    answer = PlatformApi().pipelines()
    report = Report("Pipelines")
    for p in answer.get("pipelines", []):
        last = (p.get("last_run") or {}).get("state") or "never run"
        paused = "paused" if p.get("paused") else "active"
        state = {"success": "ok", "failed": "error"}.get(last, "")
        schedule = p.get("schedule") or "manual"
        text = f"{schedule} · {paused} · next {p.get('next_run') or '-'} · last run {last}"
        report.add("Pipelines", p["dag_id"], text, state)
    for error in answer.get("import_errors", []):
        where = f"{error['file']}:{error['line']}" if error.get("line") else error["file"]
        report.add("Import errors", where, error["message"], "error")
    if not report.sections:
        report.add("Pipelines", "none", "write one with %%mlp pipeline NAME or %mlp pipeline new")
    return report


def change(action: str, args: list[str]) -> Report:
    """``trigger``, ``pause`` or ``unpause`` through the server's Airflow."""
    parser = ArgumentParser(f"pipeline {action}")
    parser.add_argument("name")
    name = parser.parse_args(args).name
    from jupyter_mlplat.kernel.platform_api import PlatformApi

    api = PlatformApi()
    report = Report(f"Pipeline {name}")
    if action == "trigger":
        started = api.trigger(name)
        report.add("Run", "run id", started.get("run_id", ""), "ok")
        report.add("Run", "state", started.get("state", ""))
    else:
        pipeline = api.pause(name, paused=action == "pause")
        report.add("Pipeline", "paused", str(bool(pipeline.get("paused"))).lower(), "ok")
    return report


@dataclass
class RunView:
    """The live table of a run: one row per task with its state, try, time and error."""

    name: str
    tasks: dict[str, dict[str, Any]] = field(default_factory=dict)
    state: str = "running"
    started: float = field(default_factory=time.monotonic)
    seconds: float = 0.0
    log: str = ""

    def apply(self, event: dict[str, Any]) -> None:
        if event.get("event") == "started":
            for task_id in event.get("tasks", []):
                self.tasks.setdefault(task_id, {"state": "scheduled"})
        elif event.get("event") == "task":
            self.tasks[event["task_id"]] = event

    def finish(self, state: str, seconds: float, log: str) -> None:
        self.state, self.seconds, self.log = state, seconds, log

    def _rows(self) -> list[tuple[str, str, str, str, str]]:
        rows = []
        for task_id, t in self.tasks.items():
            duration = f"{t['duration']:.1f} s" if t.get("duration") else ""
            tries = str(t.get("try_number") or "")
            rows.append((task_id, str(t.get("state", "")), tries, duration, t.get("error") or ""))
        return rows

    def _title(self) -> str:
        elapsed = self.seconds or time.monotonic() - self.started
        return f"pipeline {self.name}: {self.state} · {elapsed:.0f} s"

    def html(self) -> str:
        cells = "".join(
            f"<tr><td>{escape(task)}</td>"
            f'<td><span style="display:inline-block;width:10px;height:10px;border-radius:2px;'
            f'background:{STATE_COLOURS.get(state, "transparent")};margin-right:6px"></span>'
            f"{escape(state)}</td><td>{escape(tries)}</td><td>{escape(duration)}</td>"
            f"<td>{escape(error)}</td></tr>"
            for task, state, tries, duration, error in self._rows()
        )
        log = f"<div>log: <code>{escape(self.log)}</code></div>" if self.log else ""
        return (
            f'<div class="mlplat-pipeline-run" data-state="{escape(self.state)}">'
            f"<strong>{escape(self._title())}</strong>"
            '<table style="border-collapse:collapse;font-size:12px">'
            "<tr><th>task</th><th>state</th><th>try</th><th>time</th><th>error</th></tr>"
            f"{cells}</table>{log}</div>"
        )

    def __repr__(self) -> str:
        lines = [self._title()]
        lines += [f"  {t:<16} {s:<16} {d:>8}  {e}" for t, s, _, d, e in self._rows()]
        return "\n".join(lines)

    def _repr_html_(self) -> str:
        return self.html()
