"""How the progress bar adds up what Spark Connect reports (pure logic, fake stage records)."""

from __future__ import annotations

import re
from types import SimpleNamespace

from jupyter_mlplat.kernel.spark_progress import OperationProgress


def stage(stage_id: int, tasks: int, completed: int, read: int = 0, done: bool = False):
    return SimpleNamespace(
        stage_id=stage_id,
        num_tasks=tasks,
        num_completed_tasks=completed,
        num_bytes_read=read,
        done=done,
    )


def test_stages_reported_in_separate_snapshots_add_up():
    progress = OperationProgress()
    progress.update([stage(0, 8, 3, 1024)], inflight_tasks=5, done=False)
    running = progress.render().data
    assert "stages 0/1" in running and "tasks 3/8" in running and "5 running" in running
    # AQE adds the reduce stage in a later snapshot; the map stage repeats with new counts
    progress.update([stage(0, 8, 8, 2048, True), stage(1, 1, 0)], inflight_tasks=1, done=False)
    progress.update([stage(1, 1, 1, 0, True)], inflight_tasks=0, done=True)
    final = progress.render().data
    assert re.search(r"2 stages ran · 9 tasks · 2 KB read", final) and "width:100.0%" in final


def test_a_stage_that_never_ran_is_counted_as_skipped():
    progress = OperationProgress()
    progress.update([stage(0, 8, 8, done=True), stage(1, 8, 0)], inflight_tasks=0, done=True)
    assert "1 stages ran, 1 skipped" in progress.render().data
