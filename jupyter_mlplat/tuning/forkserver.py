"""Pre-started trial worker processes: one Python per kernel that has imported Optuna and the
worker code, and forks a worker for each request (``local`` studies).

A fresh ``python -m jupyter_mlplat.tuning.worker`` spends ≈0.4 CPU s (≈0.5 s on a quiet core)
importing Optuna before its first trial, per worker and per study; a fork of this server starts
at once. The kernel starts the server with a study's set-up, so even the first study overlaps
the imports with creating its MLflow runs; later studies find it ready.

Protocol (lines on the server's stdin/stdout): the kernel writes ``{"id": N, "env": {...},
"log": path}`` as JSON, the server forks a child that runs :func:`worker.main` with exactly that
environment and its output in ``log``, and answers ``exit N CODE CPU`` when the child ended
(CPU: the child's CPU seconds, which the kernel cannot see: not its child). The server lives
in its own session (a kernel interrupt signals the kernel's process group, which must not kill
trials: the study stops them cleanly) and ends, killing its children, when the kernel closes
the pipe: when the kernel ended, or when no local study used the server for
:data:`IDLE_SECONDS` (the next one starts it again).
"""

from __future__ import annotations

import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from concurrent.futures import Future
from functools import partial
from typing import IO

from jupyter_mlplat.infra.processes import run_forked_child

#: How often the server looks for ended children while it has any (their exits are not on the
#: trials' path: the coordinator follows the study storage).
REAP_SECONDS = 0.05
#: A server no study used for this long ends: it holds Optuna's imports (≈40 MB), and a kernel
#: may never tune again; the next local study pays ≈1 s to start it again.
IDLE_SECONDS = 600.0


class ForkServer:
    """The kernel's side: starts the server process and hands out worker exits as futures."""

    def __init__(self) -> None:
        env = dict(os.environ)
        env.pop("MLFLOW_RUN_ID", None)
        self.process = subprocess.Popen(
            [sys.executable, "-m", "jupyter_mlplat.tuning.forkserver"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            env=env,
            start_new_session=True,
        )
        self._lock = threading.Lock()
        self._next = 0
        self._pending: dict[int, Future[int]] = {}
        self._used = time.monotonic()  # the last claim, or the last worker's end
        self._closing = False
        self._woken = threading.Event()
        #: CPU seconds of the workers that ended (they are the server's children, not ours)
        self.cpu_seconds = 0.0
        threading.Thread(target=self._read, name="mlplat-tune-forkserver", daemon=True).start()
        threading.Thread(target=self._end_when_idle, name="mlplat-tune-idle", daemon=True).start()

    def alive(self) -> bool:
        return self.process.poll() is None

    def claim(self) -> bool:
        """Whether the server can take a study's workers; if so it is not ended as idle for
        another :data:`IDLE_SECONDS`."""
        with self._lock:
            if self._closing or not self.alive():
                return False
            self._used = time.monotonic()
            return True

    def _end_when_idle(self) -> None:
        while True:
            with self._lock:
                if not self.alive():
                    return
                idle = not self._pending
                left = IDLE_SECONDS - (time.monotonic() - self._used)
                if idle and left <= 0:
                    self._closing = True  # claimed no more: the next study starts a new one
                    break
                self._woken.clear()
            self._woken.wait(left if idle else None)  # woken when the last worker ended
        self.close()

    def start(self, env: dict[str, str], log: str) -> Future[int]:
        """Fork a worker with environment ``env``; its exit code, once it ended."""
        assert self.process.stdin is not None
        done: Future[int] = Future()
        with self._lock:
            self._next += 1
            self._pending[self._next] = done
            line = json.dumps({"id": self._next, "env": env, "log": log}) + "\n"
            try:
                self.process.stdin.write(line.encode())
                self.process.stdin.flush()
            except OSError as err:
                self._pending.pop(self._next, None)
                raise RuntimeError("the trial worker server is gone") from err
        return done

    def _read(self) -> None:
        assert self.process.stdout is not None
        for raw in self.process.stdout:
            word, _, rest = raw.decode().strip().partition(" ")
            if word == "exit":
                number, code, cpu = rest.split(" ")
                with self._lock:
                    done = self._pending.pop(int(number), None)
                    self.cpu_seconds += float(cpu)
                    self._used = time.monotonic()
                    if not self._pending:
                        self._woken.set()
                if done is not None:
                    done.set_result(int(code))
        with self._lock:
            pending, self._pending = self._pending, {}
            self._woken.set()
        for done in pending.values():
            done.set_exception(RuntimeError("the trial worker server ended"))

    def close(self) -> None:
        if self.process.stdin is not None:
            self.process.stdin.close()
        try:
            self.process.wait(10)
        except subprocess.TimeoutExpired:  # wedged; closed only when idle: no worker is lost
            self.process.kill()
            self.process.wait()


_server: ForkServer | None = None
_server_lock = threading.Lock()


def server() -> ForkServer:
    """This process's fork server, claimed for a study; started (again) when there is none
    alive (none yet, it ended as idle, or it died)."""
    global _server
    with _server_lock:
        if _server is None or not _server.claim():
            _server = ForkServer()
        return _server


# -- the server process ----------------------------------------------------------------------
def _become_worker(request: dict[str, object]) -> object:
    """In the forked child: become the worker the request describes."""
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)  # the server's requests are not the worker's to read
    log = os.open(str(request["log"]), os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.dup2(log, 1)
    os.dup2(log, 2)
    sys.stdout = open(1, "w", buffering=1, closefd=False)  # noqa: SIM115
    sys.stderr = open(2, "w", buffering=1, closefd=False)  # noqa: SIM115
    os.environ.clear()
    os.environ.update(dict(request["env"]))  # type: ignore[call-overload]
    from jupyter_mlplat.tuning import worker

    return worker.main()


def _answer(out: IO[bytes], line: str) -> None:
    out.write(line.encode() + b"\n")
    out.flush()


def serve() -> None:
    """Read requests until the kernel closes the pipe; fork one worker per request."""
    # what every worker needs before its first trial, imported once here
    import cloudpickle  # noqa: F401
    import optuna  # noqa: F401

    from jupyter_mlplat.tuning import storage, worker  # noqa: F401

    requests = sys.stdin.buffer
    out = os.fdopen(os.dup(1), "wb")
    children: dict[int, int] = {}  # pid -> request id
    buffer = b""
    while True:
        readable, _, _ = select.select([requests], [], [], REAP_SECONDS if children else None)
        if readable:
            chunk = os.read(requests.fileno(), 65536)
            if not chunk:  # the kernel is gone: so are its studies
                for pid in children:
                    os.kill(pid, signal.SIGTERM)
                return
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                pid = os.fork()
                if pid == 0:
                    run_forked_child(partial(_become_worker, request))
                children[pid] = int(request["id"])
        while children:
            pid, status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            code, cpu = os.waitstatus_to_exitcode(status), usage.ru_utime + usage.ru_stime
            _answer(out, f"exit {children.pop(pid)} {code} {cpu:.3f}")


if __name__ == "__main__":
    serve()
