"""The project's pipelines: DAG files in ``MLPlat.pipelines_dir``, written from a notebook cell
of TaskFlow ``@task`` functions (``%%mlp pipeline NAME``) and checked by Airflow itself.

A file is written to a staging folder, imported with Airflow's DagBag in a subprocess and moved
into place only when it imports: a broken cell leaves the folder as it was and reports Airflow's
import error as one ``file:line: message`` line.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
import tempfile
import textwrap
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from jupyter_mlplat.catalog.service import identifier
from jupyter_mlplat.config import MLPlat, project_folder
from jupyter_mlplat.errors import InvalidInput, MLPlatError

_NAME = re.compile(r"^[A-Za-z][A-Za-z0-9_]{0,99}$")
PRESETS = ("@once", "@continuous", "@hourly", "@daily", "@weekly", "@monthly", "@yearly")
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,\-?#LW]+$")
#: Seconds Airflow may take to import a DAG file (its own import is several seconds).
CHECK_TIMEOUT = 180


class PipelineImportError(MLPlatError):
    """Airflow could not import a DAG file; the message is its error as ``file:line: ...``."""

    status = 422


@dataclass(frozen=True)
class PipelineFile:
    """A DAG file that Airflow imported: its path and the DAG ids it defines."""

    name: str
    path: Path
    dag_ids: tuple[str, ...]
    config: Path | None = None  # the feature config of a template pipeline


def pipelines_dir(config: MLPlat, start: str | Path | None = None) -> Path:
    """The pipelines folder (``MLPlat.pipelines_dir`` resolved against the project)."""
    return project_folder(config.pipelines_dir, start)


def pipeline_name(name: str) -> str:
    """``name`` if it can be a DAG id, a Python function and a file name; else one line."""
    if not _NAME.match(name or ""):
        raise InvalidInput(
            f"invalid pipeline name {name!r}: start with a letter; letters, digits and _ only"
        )
    return name


def pipeline_path(config: MLPlat, name: str) -> Path:
    """The DAG file of pipeline ``name``."""
    return pipelines_dir(config) / f"{pipeline_name(name)}.py"


def list_files(config: MLPlat) -> list[Path]:
    """The DAG files of the pipelines folder."""
    folder = pipelines_dir(config)
    return sorted(p for p in folder.glob("*.py") if not p.name.startswith("_"))


def table_asset_uri(table: str) -> str:
    """The Airflow Asset a table stands for (``db.t`` -> ``mlplat://catalog/db/t``)."""
    parts = table.split(".")
    if len(parts) != 2:
        raise InvalidInput(f"invalid table {table!r} for a schedule: use table:<database>.<table>")
    database, name = (identifier(part, "table") for part in parts)
    return f"mlplat://catalog/{database}/{name}"


def schedule_code(schedule: str | None) -> str:
    """The Python expression of a DAG's ``schedule``: None, a preset, a cron expression or
    ``table:db.t`` (runs when the table changes: an Airflow Asset)."""
    if not schedule or schedule.lower() == "none":
        return "None"
    if schedule.startswith("table:"):
        table = schedule.removeprefix("table:")
        uri = table_asset_uri(table)  # the asset the catalog sends an event to on a change
        return f"[Asset(name={json.dumps(table)}, uri={json.dumps(uri)})]"
    if schedule.startswith("@"):
        if schedule not in PRESETS:
            raise InvalidInput(f"unknown schedule {schedule!r}: use one of {', '.join(PRESETS)}")
        return json.dumps(schedule)
    fields = schedule.split()
    if len(fields) not in (5, 6) or not all(_CRON_FIELD.match(f) for f in fields):
        raise InvalidInput(
            f"invalid schedule {schedule!r}: use @daily (or another preset), a cron expression "
            'such as "0 6 * * *", or table:<database>.<table>'
        )
    return json.dumps(" ".join(fields))


def dag_header(name: str, schedule: str | None, owner: str, retries: int | None = None) -> str:
    """The ``@dag(...)`` decorator every platform pipeline carries: owner = the platform user
    (also as tag ``owner:<user>``: a shared Airflow shows each user their own pipelines).
    Without ``retries`` the tasks get the Airflow's defaults (the embedded one: one retry)."""
    retry = "" if retries is None else f', "retries": {retries}'
    if retries:
        retry += ', "retry_delay": pendulum.duration(seconds=30)'
    return (
        "@dag(\n"
        f"    dag_id={json.dumps(name)},\n"
        f"    schedule={schedule_code(schedule)},\n"
        '    start_date=pendulum.datetime(2024, 1, 1, tz="UTC"),\n'
        "    catchup=False,\n"
        f'    default_args={{"owner": {json.dumps(owner)}{retry}}},\n'
        f'    tags=["mlplat", {json.dumps("owner:" + owner)}],\n'
        ")"
    )


_CELL_FILE = '''\
"""Pipeline {name}: written from a notebook cell by %%mlp pipeline ({source}, {stamp}).

Re-running the cell replaces this file. Run it now with `%mlp pipeline run {name}`; Airflow runs
it on its schedule. Inside a task, `spark` and MLflow are set up as in a notebook kernel.
"""

from __future__ import annotations

import pendulum
from airflow.sdk import Asset, dag, task  # noqa: F401

from jupyter_mlplat.pipelines.context import spark  # noqa: F401


{header}
def {name}():
    # --- the cell ---
{body}
    # --- end of the cell ---


{name}_dag = {name}()

if __name__ == "__main__":
    {name}_dag.test()
'''


def cell_file_text(name: str, cell: str, schedule: str | None, owner: str, source: str) -> str:
    """A DAG file whose DAG function holds the cell: its ``@task`` functions and the calls that
    wire them (closures see the cell's own imports and constants)."""
    if not cell.strip():
        raise InvalidInput("the cell is empty: write @task functions and call them")
    try:
        tree = ast.parse(cell)
    except SyntaxError:
        tree = None  # Airflow's import reports it with its line, like any other import error
    if tree is not None and not any(_is_task(node) for node in ast.walk(tree)):
        raise InvalidInput(
            "the cell defines no @task function (from airflow.sdk: @task def step(): ...)"
        )
    body = textwrap.indent(textwrap.dedent(cell).rstrip() + "\n", "    ")
    return _CELL_FILE.format(
        name=name,
        source=source or "a notebook",
        stamp=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        header=dag_header(name, schedule, owner),
        body=body.rstrip("\n"),
    )


def _is_task(node: ast.AST) -> bool:
    if not isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
        return False
    for decorator in node.decorator_list:
        target = decorator.func if isinstance(decorator, ast.Call) else decorator
        while isinstance(target, ast.Attribute):
            if target.attr == "task":
                return True
            target = target.value
        if isinstance(target, ast.Name) and target.id == "task":
            return True
    return False


def cell_line_offset(text: str) -> int:
    """The file line just before the cell's first line (for "cell line N" in errors)."""
    return text.splitlines().index("    # --- the cell ---") + 1


def write_from_cell(
    name: str, cell: str, schedule: str | None = None, config: MLPlat | None = None
) -> PipelineFile:
    """Turn a cell of ``@task`` functions into ``<pipelines>/<name>.py``, checked by Airflow."""
    config = config or MLPlat()
    name = pipeline_name(name)
    text = cell_file_text(
        name, cell, schedule, config.resolved_user, Path(config.notebook_path).name
    )
    return install(config, {f"{name}.py": text}, name, cell_offset=cell_line_offset(text))


def install(
    config: MLPlat, files: dict[str, str], name: str, cell_offset: int | None = None
) -> PipelineFile:
    """Write ``files`` (DAG file first) to a staging folder, let Airflow import the DAG file and
    move them into the pipelines folder only if it imports and defines DAG ``name``."""
    folder = pipelines_dir(config)
    folder.mkdir(parents=True, exist_ok=True)
    dag_file = next(iter(files))
    # staged outside the DAG folder: a running scheduler never sees a file that does not import
    with tempfile.TemporaryDirectory(prefix="mlplat-pipeline-") as staging:
        for file, text in files.items():
            (Path(staging) / file).write_text(text)
        result = check_file(config, Path(staging) / dag_file)
        errors = result.get("errors") or []
        if errors:
            raise PipelineImportError(
                import_error_line(errors[0], folder / dag_file, Path(staging), cell_offset)
            )
        dag_ids = tuple(result.get("dag_ids") or ())
        if name not in dag_ids:
            found = ", ".join(dag_ids) or "none"
            raise InvalidInput(f"{dag_file} defines no DAG {name!r} (DAGs found: {found})")
        for file, text in files.items():  # write-then-rename: never half a file in the folder
            partial = folder / f".{file}.partial"
            partial.write_text(text)
            os.replace(partial, folder / file)
    config_file = next((folder / f for f in files if f.endswith(".yaml")), None)
    return PipelineFile(name, folder / dag_file, dag_ids, config_file)


def check_file(config: MLPlat, path: Path) -> dict[str, Any]:
    """Import ``path`` with Airflow's DagBag in a subprocess: its DAG ids and import errors."""
    from jupyter_mlplat.pipelines.runner import airflow_environment

    env = os.environ | airflow_environment(config)
    try:
        done = subprocess.run(
            [sys.executable, "-m", "jupyter_mlplat.pipelines.runner", "check", str(path)],
            capture_output=True,
            text=True,
            env=env,
            timeout=CHECK_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        raise MLPlatError(f"Airflow took over {CHECK_TIMEOUT} s to import {path.name}") from None
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise MLPlatError(f"could not import {path.name} with Airflow: {tail}")
    return dict(json.loads(lines[-1]))


_FILE_LINE = re.compile(r'File "([^"]+)", line (\d+)')


def import_error_line(
    error: dict[str, Any], shown: Path, staging: Path, cell_offset: int | None = None
) -> str:
    """Airflow's import error as one line: ``<file>:<line>: <Error>: <message>`` (the line of
    the last traceback frame in the DAG file; "cell line N" when it falls in the cell)."""
    text = str(error.get("message") or "").replace(str(staging), str(shown.parent))
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    message = lines[-1] if lines else "unknown import error"
    line_no = None
    for match in _FILE_LINE.finditer(text):
        if Path(match.group(1)).name == shown.name:
            line_no = int(match.group(2))
    if line_no is None:  # a SyntaxError names its line in the message, not in a frame
        found = re.search(rf"{re.escape(shown.name)}\D+(\d+)", text)
        line_no = int(found.group(1)) if found else None
    where = str(shown) + (f":{line_no}" if line_no else "")
    if line_no and cell_offset is not None and line_no > cell_offset:
        where += f" (cell line {line_no - cell_offset})"
    return f"{where}: {message}"
