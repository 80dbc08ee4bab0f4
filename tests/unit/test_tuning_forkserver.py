"""The kernel's trial worker server (real processes, real Optuna): it stays while studies use
it and ends once idle, and the next local study starts another."""

from __future__ import annotations

import os
import time

import cloudpickle

from jupyter_mlplat.tuning import forkserver
from jupyter_mlplat.tuning import storage as st
from jupyter_mlplat.tuning import worker as w
from jupyter_mlplat.tuning.launch import Launch
from tests.support.waiting import eventually


def test_the_worker_server_ends_when_idle_not_while_used(monkeypatch, tmp_path):
    monkeypatch.setattr(forkserver, "IDLE_SECONDS", 1.0)
    monkeypatch.setattr(forkserver, "_server", None)
    url = st.journal_url(tmp_path, "idle")
    st.prepare_study(url, "idle", "minimize", "median", new=True)
    objective = tmp_path / "objective.pkl"
    objective.write_bytes(cloudpickle.dumps(lambda trial: time.sleep(2.5) or trial.number))
    launch = Launch(url, "idle", print, trials=1, workers=1, deadline=None, pruner="median",
                    folder=tmp_path)  # fmt: skip
    env = {**os.environ, **launch.worker_env(), w.ENV_OBJECTIVE: str(objective)}

    first = forkserver.server()
    # claims within the idle time keep the same server
    for _ in range(3):
        time.sleep(0.5)
        assert forkserver.server() is first
    exited = first.start(env, str(tmp_path / "worker.log"))
    time.sleep(1.6)  # longer than the idle time, but a worker runs: the server stays
    assert first.alive() and not exited.done()
    assert exited.result(timeout=30) == 0
    assert len(st.load_study(url, "idle").get_trials(deepcopy=False)) == 1
    # idle once the worker ended: gone within the idle time (and a check's slack)
    eventually(lambda: not first.alive(), 5.0, "the idle server's end")
    second = forkserver.server()
    try:
        assert second is not first and second.alive()
    finally:
        second.close()
