"""A live progress bar in the running cell for Spark Connect queries.

Spark 4's Connect client calls a registered handler with the stages of the running operation
(on the thread running the action); each call updates one display in the cell. The kernel
extension hands :class:`ProgressReporter` to the Spark sessions it creates: the Spark service
itself knows nothing of displays.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from IPython.display import HTML, DisplayHandle, display

from jupyter_mlplat.kernel.render import DONE, RUNNING, progress_bar


@dataclass
class OperationProgress:
    """What is known about one running operation."""

    started: float = field(default_factory=time.monotonic)
    stages: dict[int, tuple[int, int, int, bool]] = field(default_factory=dict)
    inflight: int = 0
    done: bool = False
    handle: DisplayHandle | None = None

    def update(self, stages: list[Any], inflight_tasks: int, done: bool) -> None:
        # snapshots can repeat and AQE may add stages mid-query: keep the latest of each stage
        for stage in stages:
            self.stages[stage.stage_id] = (
                stage.num_tasks,
                stage.num_completed_tasks,
                stage.num_bytes_read,
                stage.done,
            )
        self.inflight = inflight_tasks
        self.done = done

    @property
    def totals(self) -> tuple[int, int, int, int, int]:
        """(tasks, completed tasks, stages, completed stages, bytes read)."""
        values = self.stages.values()
        return (
            sum(v[0] for v in values),
            sum(v[1] for v in values),
            len(self.stages),
            sum(1 for v in values if v[3]),
            sum(v[2] for v in values),
        )

    def render(self) -> HTML:
        tasks, completed, stages, stages_done, read = self.totals
        elapsed = time.monotonic() - self.started
        # skipped stages never complete: a finished operation is 100 %
        fraction = 1.0 if self.done else (completed / tasks if tasks else 0.0)
        colour = DONE if self.done else RUNNING
        if self.done:
            # AQE and reused shuffles leave stages that never run: count what ran
            ran = sum(1 for v in self.stages.values() if v[3] or v[1])
            skipped = f", {stages - ran} skipped" if stages > ran else ""
            text = (
                f"Spark: {ran} stages ran{skipped} · {completed} tasks · "
                f"{_size(read)} read · {elapsed:.1f} s · done"
            )
        else:
            text = (
                f"Spark: stages {stages_done}/{stages} · tasks {completed}/{tasks} · "
                f"{_size(read)} read · {elapsed:.1f} s · {self.inflight} running"
            )
        return HTML(progress_bar("spark", fraction, text, colour))


class ProgressReporter:
    """The handler given to ``spark.registerProgressHandler``: one bar per operation."""

    def __init__(self) -> None:
        self.operations: dict[str, OperationProgress] = {}

    def __call__(
        self, stages: list[Any], inflight_tasks: int, operation_id: str, done: bool, **_: Any
    ) -> None:
        # an exception here would fail the user's query: never let one out
        try:
            operation = self.operations.setdefault(operation_id, OperationProgress())
            operation.update(stages or [], inflight_tasks, done)
            if not operation.stages and not done:
                return  # nothing to show yet (e.g. a catalog call)
            if operation.handle is None:
                if not operation.stages:
                    return  # finished without running Spark jobs: no bar at all
                operation.handle = display(operation.render(), display_id=True)
            else:
                operation.handle.update(operation.render())
            if done:
                self.operations.pop(operation_id, None)
        except Exception:  # noqa: S110
            pass


def _size(num_bytes: int) -> str:
    size = float(num_bytes)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024:
            return f"{size:.0f} {unit}"
        size /= 1024
    return f"{size:.1f} TB"
