"""What a tuning study is asked to do, and what it reports back (pure data, no engines)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from typing import Any

from jupyter_mlplat.errors import InvalidInput

PARALLEL_MODES = ("none", "local", "spark", "kubernetes")
DIRECTIONS = ("minimize", "maximize")
PRUNERS = ("median", "none")


@dataclass(frozen=True)
class TuningSpec:
    """A study's settings. ``workers`` defaults per mode (see :func:`default_workers`)."""

    trials: int
    parallel: str = "local"
    workers: int | None = None
    timeout: float | None = None
    direction: str = "minimize"
    metric: str = "value"
    study_name: str | None = None
    new: bool = False
    pruner: str = "median"
    register: str | None = None

    def validated(self) -> TuningSpec:
        """Itself, or InvalidInput (one line) naming the first bad setting."""
        if isinstance(self.trials, bool) or not isinstance(self.trials, int) or self.trials <= 0:
            raise InvalidInput(f"trials must be a positive whole number, not {self.trials!r}")
        _one_of("parallel", self.parallel, PARALLEL_MODES)
        _one_of("direction", self.direction, DIRECTIONS)
        _one_of("pruner", self.pruner, PRUNERS)
        if self.workers is not None and (isinstance(self.workers, bool) or self.workers <= 0):
            raise InvalidInput(f"workers must be a positive whole number, not {self.workers!r}")
        if self.timeout is not None and not self.timeout > 0:
            raise InvalidInput(
                f"timeout must be a positive number of seconds, not {self.timeout!r}"
            )
        if not self.metric or not re.fullmatch(r"[\w./ -]+", self.metric):
            raise InvalidInput(f"metric {self.metric!r} is not a valid MLflow metric name")
        if self.study_name is not None and not STUDY_NAME.fullmatch(self.study_name):
            raise InvalidInput(
                f"study name {self.study_name!r}: use letters, digits, '.', '_' or '-' (max 100)"
            )
        if self.register is not None and not self.register.strip():
            raise InvalidInput("register needs a model name")
        return self


STUDY_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")


def _one_of(name: str, value: str, allowed: tuple[str, ...]) -> None:
    if value not in allowed:
        raise InvalidInput(f"{name} must be one of {', '.join(allowed)}, not {value!r}")


def default_study_name(source: str, objective_name: str) -> str:
    """``<notebook or experiment>-<objective>``: re-running the same cell resumes its study."""
    stem = source.rstrip("/").rsplit("/", 1)[-1].rsplit(".", 1)[0] if source else "study"
    name = f"{stem}-{objective_name}" if objective_name not in ("", "<lambda>") else stem
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", name).strip("-._") or "study"
    return name[:100]


def default_workers(parallel: str, trials: int, *, cpus: int | None = None,
                    spark_slots: int | None = None, max_pods: int = 8) -> int:  # fmt: skip
    """How many trial workers a mode runs when the spec does not say."""
    if parallel == "none":
        return 1
    if parallel == "local":
        n = cpus or os.cpu_count() or 1
    elif parallel == "spark":
        n = spark_slots or 2
    else:
        n = max_pods
    return max(1, min(n, trials))


def share(trials: int, workers: int, index: int) -> int:
    """Trials worker ``index`` (0-based) of ``workers`` runs: an even split, remainder first."""
    return trials // workers + (1 if index < trials % workers else 0)


@dataclass(frozen=True)
class TuningProgress:
    """A snapshot of a running study. Counts are of this session's trials; best and history
    cover the whole study (earlier sessions of a resumed study included)."""

    total: int
    complete: int
    running: int
    pruned: int
    failed: int
    best_value: float | None
    best_params: dict[str, Any]
    best_trial: int | None
    history: list[tuple[int, float | None, str]]
    finished: bool
    stopped: bool
    error: str | None
    parent_run_id: str
    study_name: str

    @property
    def done(self) -> int:
        """Trials of this session that ended (complete, pruned or failed)."""
        return self.complete + self.pruned + self.failed


@dataclass(frozen=True)
class TuningResult:
    """The outcome of a study: its best trial, the MLflow run of it, the registered version."""

    study_name: str
    parent_run_id: str
    best_trial: int
    best_value: float
    best_params: dict[str, Any]
    best_run_id: str
    model_version: str | None
    progress: TuningProgress = field(repr=False)
