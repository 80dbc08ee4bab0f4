"""The model-server zygote's bookkeeping (the zygote itself runs in the integration tests:
every local deploy forks from it)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from jupyter_mlplat.deploy.forks import ServerForks
from jupyter_mlplat.infra.processes import pid_alive


def test_an_exited_child_is_not_alive():
    child = subprocess.Popen([sys.executable, "-c", "pass"])
    deadline = time.monotonic() + 10
    while pid_alive(child.pid) and time.monotonic() < deadline:
        time.sleep(0.02)
    assert not pid_alive(child.pid)  # reaped, not taken for a live zombie
    assert not pid_alive(0)


def test_a_zygote_of_another_environment_is_not_reused(tmp_path: Path):
    one = ServerForks(tmp_path, Path("/envs/a/bin/python"), "lock-1")
    assert one.key != ServerForks(tmp_path, Path("/envs/b/bin/python"), "lock-1").key
    assert one.key != ServerForks(tmp_path, Path("/envs/a/bin/python"), "lock-2").key
    assert one.key == ServerForks(tmp_path, Path("/envs/a/bin/python"), "lock-1").key


def test_a_stale_record_is_no_zygote(tmp_path: Path):
    forks = ServerForks(tmp_path, Path(sys.executable), "lock")
    assert not forks.stop()  # nothing recorded
    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()
    forks.record.write_text(json.dumps({"pid": gone.pid, "key": forks.key}))
    forks.socket_path.write_text("")
    assert not forks.stop()
    assert not forks.socket_path.exists()
