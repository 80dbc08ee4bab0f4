"""Saved expectation suites: plain text files in the short syntax, kept in the project.

A suite ``orders`` is ``<suites dir>/orders.txt``; its lines are exactly what a ``%%mlp check``
cell holds, so a check copied from a notebook into a file (or back) runs unchanged.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

from jupyter_mlplat.config import MLPlat, project_folder
from jupyter_mlplat.errors import InvalidInput, NotFound
from jupyter_mlplat.quality.spec import ExpectationSpec, ParsedCell, parse, validate_name

SUFFIX = ".txt"


def suites_dir(config: MLPlat, start: str | Path | None = None) -> Path:
    """Where suites live: ``MLPlat.quality_suites_dir`` resolved against the project
    (see :func:`jupyter_mlplat.config.project_folder`)."""
    return project_folder(config.quality_suites_dir, start)


def suite_path(config: MLPlat, name: str) -> Path:
    """The file of suite ``name``."""
    return suites_dir(config) / f"{validate_name(name, 'suite name')}{SUFFIX}"


def list_suites(config: MLPlat) -> list[str]:
    """Names of the saved suites."""
    folder = suites_dir(config)
    return sorted(p.stem for p in folder.glob(f"*{SUFFIX}")) if folder.is_dir() else []


def save_suite(config: MLPlat, name: str, expectations: list[ExpectationSpec]) -> Path:
    """Write suite ``name`` (replacing it) and return its path."""
    if not expectations:
        raise InvalidInput(f"suite {name!r} would be empty: give at least one expectation")
    path = suite_path(config, name)
    lines = [
        f"# Data-quality suite {name!r}: one '<column>: <check>, ...' per line "
        "(run it with %%mlp check <frame> --suite " + name + ", or "
        "jupyter_mlplat.quality.validate(frame, suite=" + repr(name) + "))",
        *_grouped_lines(expectations),
    ]
    text = "\n".join(lines) + "\n"
    parse(text)  # never write a file that does not read back
    path.parent.mkdir(parents=True, exist_ok=True)
    # write-then-rename: a pipeline reading the suite never sees half a file
    with tempfile.NamedTemporaryFile("w", dir=path.parent, delete=False, suffix=".tmp") as tmp:
        tmp.write(text)
    os.replace(tmp.name, path)
    return path


def load_suite(config: MLPlat, name: str) -> list[ExpectationSpec]:
    """The expectations of suite ``name`` (suites it includes expanded)."""
    return _load(config, name, ())


def expand(config: MLPlat, parsed: ParsedCell) -> list[ExpectationSpec]:
    """A cell's own expectations plus those of the suites it includes."""
    specs = [spec for name in parsed.suites for spec in _load(config, name, ())]
    return specs + parsed.expectations


def _load(config: MLPlat, name: str, seen: tuple[str, ...]) -> list[ExpectationSpec]:
    if name in seen:
        raise InvalidInput(f"suite {name!r} includes itself ({' -> '.join([*seen, name])})")
    path = suite_path(config, name)
    if not path.is_file():
        saved = ", ".join(list_suites(config)) or "none"
        raise NotFound(f"no saved suite {name!r} in {path.parent} (saved suites: {saved})")
    try:
        parsed = parse(path.read_text())
    except InvalidInput as err:
        raise InvalidInput(f"suite {name!r} ({path}): {err}") from None
    included = [spec for other in parsed.suites for spec in _load(config, other, (*seen, name))]
    return included + parsed.expectations


def _grouped_lines(expectations: list[ExpectationSpec]) -> list[str]:
    """Lines of the short syntax, consecutive checks of one target on one line."""
    lines: list[str] = []
    previous = ""
    for spec in expectations:
        line = spec.to_line()
        target, _, check = line.partition(": ")
        if spec.check and lines and target == previous:
            lines[-1] += f", {check}"
        else:
            lines.append(line)
        previous = target if spec.check else ""
    return lines
