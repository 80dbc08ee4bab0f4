"""Model servers forked from a warm zygote instead of started from scratch.

``mlserver start`` spends most of its start importing MLServer, MLflow, pandas and
scikit-learn (4-8 CPU seconds, 15-25 s on a loaded two-core machine) before it loads a
small model in well under a second. The zygote (``serving/zygote.py``, run by the serving
environment's Python) does those imports once and forks a ready-to-run ``mlserver start
<dir>`` per model server: same program, same settings, same log, its own process group, so
the deploy backend stops and supervises it exactly like one it started itself.

The zygote starts with the first model server and exits after ``idle`` seconds without a
request (the idle platform carries no serving process); pages it imported stay shared
copy-on-write with the servers forked from it.
"""

from __future__ import annotations

import fcntl
import hashlib
import json
import signal
import socket
import subprocess
import time
from pathlib import Path

from jupyter_mlplat.errors import Unavailable
from jupyter_mlplat.infra.processes import pid_alive, signal_group

ZYGOTE = Path(__file__).parent / "serving" / "zygote.py"
#: Seconds the zygote waits for the next server to fork before it exits.
IDLE_SECONDS = 900.0


class ServerForks:
    """The zygote of one state directory (``<root>/zygote.*``) and the servers it forks."""

    def __init__(self, root: Path, python: Path, lock_hash: str, idle: float = IDLE_SECONDS):
        self.root = root
        self.python = python
        self.idle = idle
        # a zygote of another environment (or an older script) must not fork servers
        self.key = hashlib.sha256(
            f"{python}\n{lock_hash}\n".encode() + ZYGOTE.read_bytes()
        ).hexdigest()[:16]

    @property
    def socket_path(self) -> Path:
        return self.root / "zygote.sock"

    @property
    def record(self) -> Path:
        return self.root / "zygote.json"

    def start(self, server_dir: Path, log: Path, env: dict[str, str], timeout: float = 180) -> int:
        """Fork ``mlserver start server_dir`` (output to ``log``); its pid."""
        for attempt in range(2):
            self._ensure(env, timeout)
            try:
                return self._fork(server_dir, log)
            except OSError:
                # it exited (idle, or killed and its pid reused) since the check: forget it
                # (never signal a recorded pid that may be another process now), start anew
                if attempt:
                    raise Unavailable("the model-server zygote does not answer") from None
                self.record.unlink(missing_ok=True)
                self.socket_path.unlink(missing_ok=True)
        raise AssertionError("unreachable")

    def ready(self) -> bool:
        """The zygote runs and listens: a server forks from it at once."""
        return self._pid() is not None and self.socket_path.exists()

    def stop(self) -> bool:
        """Stop the zygote (``mlplat stop``); the servers it forked keep running."""
        pid = self._pid()
        if pid is not None:
            signal_group(pid, signal.SIGTERM)  # its group is itself: each server has its own
        self.socket_path.unlink(missing_ok=True)
        return pid is not None

    def _fork(self, server_dir: Path, log: Path) -> int:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as conn:
            conn.settimeout(20)
            conn.connect(str(self.socket_path))
            conn.sendall(json.dumps({"dir": str(server_dir), "log": str(log)}).encode() + b"\n")
            with conn.makefile("rb") as stream:
                line = stream.readline()
        if not line:
            raise OSError("the zygote closed the connection")
        answer = json.loads(line)
        if "pid" not in answer:
            raise Unavailable(f"the model-server zygote refused: {answer.get('error')}")
        return int(answer["pid"])

    def _pid(self) -> int | None:
        try:
            pid = int(json.loads(self.record.read_text())["pid"])
        except (OSError, ValueError, KeyError, TypeError):
            return None
        return pid if pid_alive(pid) else None

    def ensure(self, env: dict[str, str], timeout: float = 180) -> None:
        """Start the zygote if needed and wait until it listens."""
        self._ensure(env, timeout)

    def prestart(self, env: dict[str, str]) -> None:
        """Start the zygote if it is not running, without waiting for it (its imports then
        overlap the model's download)."""
        self._ensure(env, timeout=0)

    def _ensure(self, env: dict[str, str], timeout: float) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        with (self.root / ".zygote.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)  # two deploys at once start one zygote
            pid = self._pid()
            try:
                key = json.loads(self.record.read_text()).get("key")
            except (OSError, ValueError, AttributeError):
                key = None
            spawned = pid is None or key != self.key
            if spawned:
                if pid is not None:
                    self.stop()  # another environment's zygote
                pid = self._spawn(env)
        if timeout:
            assert pid is not None
            self._wait(pid, timeout, spawned)

    def _spawn(self, env: dict[str, str]) -> int:
        self.socket_path.unlink(missing_ok=True)
        with (self.root / "zygote.log").open("ab") as log:
            process = subprocess.Popen(
                [str(self.python), str(ZYGOTE), str(self.socket_path), str(self.idle)],
                stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.root, env=env, start_new_session=True,  # outlives the Jupyter server
            )  # fmt: skip
        self.record.write_text(json.dumps({"pid": process.pid, "key": self.key}))
        return process.pid

    def _wait(self, pid: int, timeout: float, spawned: bool) -> None:
        """Until the zygote listens (it binds its socket once its imports are done); one that
        does not in time is killed if this call started it (a recorded pid may be reused)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.socket_path.exists():
                return
            if self._pid() != pid:
                break
            time.sleep(0.05)
        if spawned:
            signal_group(pid, signal.SIGKILL)
        tail = (self.root / "zygote.log").read_text(errors="replace").strip().splitlines()[-2:]
        raise Unavailable("the model-server zygote did not start: " + " | ".join(tail))
