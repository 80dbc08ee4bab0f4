"""The model-server zygote's bookkeeping (the zygote itself runs in the integration tests:
every local deploy forks from it)."""

from __future__ import annotations

import json
import platform
import socket
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


#: The ``exit`` system call (one thread, unlike ``exit_group``) by machine.
SYS_EXIT = {"x86_64": 60, "aarch64": 93}

LEADER_EXITS_FIRST = """
import ctypes, platform, socket, sys, threading, time
listener = socket.create_server(("127.0.0.1", 0))
print(listener.getsockname()[1], flush=True)
threading.Thread(target=time.sleep, args=(60,)).start()
ctypes.CDLL(None).syscall(int(sys.argv[1]), 0)  # only the main thread ends
"""


def test_a_process_whose_other_threads_still_run_is_alive():
    """Its leader shows ``Z`` while the other threads run and hold its socket: not exited."""
    child = subprocess.Popen(
        [sys.executable, "-c", LEADER_EXITS_FIRST, str(SYS_EXIT[platform.machine()])],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        port = int(child.stdout.readline())
        deadline = time.monotonic() + 10
        while "Z" not in Path(f"/proc/{child.pid}/stat").read_text().rpartition(")")[2][:3]:
            assert time.monotonic() < deadline, "the main thread did not end"
            time.sleep(0.02)
        assert pid_alive(child.pid)
        socket.create_connection(("127.0.0.1", port), timeout=5).close()  # still listening
    finally:
        child.kill()
        child.wait(10)
    assert not pid_alive(child.pid)


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
