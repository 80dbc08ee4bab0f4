"""Child processes of the local platform: start, wait until ready, stop."""

from __future__ import annotations

import contextlib
import os
import random
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import NoReturn

from jupyter_mlplat.errors import Unavailable


class ServiceError(Unavailable):
    """A service did not start; the message carries the end of its log."""


def free_port(preferred: int = 0) -> int:
    """``preferred`` if it is free on 127.0.0.1, else a free port outside the kernel's range
    for outgoing connections, else any free port.

    The port is free when probed, not reserved: a server binds it a moment later. Ports the
    kernel hands to outgoing connections (``ip_local_port_range``) could be taken in between
    by any client on a busy machine, so they come last. Probed with ``SO_REUSEADDR`` as the
    servers bind: a port whose last server just stopped (connections in TIME_WAIT) is free for
    the next one, a listening port is not.
    """
    listening = _listening_ports()
    candidates = random.sample(listening, min(20, len(listening))) if listening else []
    for port in [preferred] * bool(preferred) + candidates + [0]:
        with socket.socket() as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return int(sock.getsockname()[1])
    raise ServiceError("no free port on 127.0.0.1")


def _listening_ports() -> range:
    """Ports below (or above) the kernel's range for outgoing connections."""
    try:
        low, high = map(int, Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split())
    except (OSError, ValueError):
        return range(0)
    if low > 11_000:
        return range(10_000, low)
    if high < 64_000:
        return range(high + 1, 65_536)
    return range(0)


def port_open(host: str, port: int, timeout: float = 0.5) -> bool:
    """Whether something accepts TCP connections at ``host:port``."""
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


@dataclass
class RestartBackoff:
    """When to restart a service that crashed: after 1, 2, 4 ... seconds (at most ``longest``);
    it gives up only when it crashed more than ``limit`` times within ``window`` seconds, so a
    service that crashes now and then over days is always restarted."""

    first: float = 1.0
    longest: float = 30.0
    limit: int = 5
    window: float = 300.0
    crashes: list[float] = field(default_factory=list)

    def delay(self, now: float) -> float | None:
        """Record a crash at ``now``; the seconds to wait before restarting, or None to give up."""
        self.crashes = [t for t in self.crashes if now - t < self.window] + [now]
        if len(self.crashes) > self.limit:
            return None
        return min(self.longest, self.first * 2 ** (len(self.crashes) - 1))


@dataclass
class Service:
    """One server process, its readiness URL (``http://...`` answering 200, or ``tcp://host:port``
    accepting connections) and its log file."""

    name: str
    command: list[str]
    ready_url: str
    log_path: Path
    env: Mapping[str, str] = field(default_factory=dict)
    cwd: Path | None = None
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env={**os.environ, **self.env},
                cwd=self.cwd,
                start_new_session=True,  # its own process group: stopped as a whole
            )

    def wait_ready(self, timeout: float) -> float:
        """Poll ``ready_url`` until it answers 200; return the seconds it took."""
        start = time.monotonic()
        while time.monotonic() - start < timeout:
            if self.process is not None and self.process.poll() is not None:
                raise ServiceError(
                    f"{self.name} exited with code {self.process.returncode}:\n{self.log_tail()}"
                )
            if self._answers():
                return time.monotonic() - start
            time.sleep(0.2)
        raise ServiceError(f"{self.name} not ready after {timeout:.0f} s:\n{self.log_tail()}")

    def _answers(self) -> bool:
        if self.ready_url.startswith("tcp://"):
            host, _, port = self.ready_url[len("tcp://") :].partition(":")
            return port_open(host, int(port), timeout=1)
        return http_ok(self.ready_url)

    def stop(self, timeout: float = 20) -> None:
        """SIGTERM the process group, then SIGKILL what is left after ``timeout``."""
        if self.process is None or self.process.poll() is not None:
            return
        signal_group(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout)
        except subprocess.TimeoutExpired:
            signal_group(self.process.pid, signal.SIGKILL)
            self.process.wait(5)
        signal_group(self.process.pid, signal.SIGKILL)  # stragglers (server workers)

    def log_tail(self, lines: int = 30) -> str:
        return log_tail(self.log_path, lines)


def http_ok(url: str, timeout: float = 2) -> bool:
    """Whether ``url`` answers 200 (a readiness probe: any failure is just "not yet")."""
    try:
        with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError):
        return False


def log_tail(path: Path, lines: int = 30) -> str:
    """The last ``lines`` of a server's log, for error messages."""
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return "(no log)"


def run_forked_child(main: Callable[[], object]) -> NoReturn:
    """In a child a fork server forked: run ``main`` and leave with its exit code.

    ``os._exit`` so that nothing of the server's stack runs in the child (its ``finally``
    blocks, ``atexit`` hooks, the buffers of its objects); an exception is printed first.
    """
    code = 1
    try:
        result = main()
        code = result if isinstance(result, int) else 0
    except SystemExit as stop:
        code = stop.code if isinstance(stop.code, int) else (0 if stop.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def pid_alive(pid: int) -> bool:
    """Whether process ``pid`` exists; an exited child of this process is reaped and counts as
    gone, and so does any other zombie (a server whose parent died: its new parent reaps it)."""
    if pid <= 0:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    with contextlib.suppress(ChildProcessError):
        if os.waitpid(pid, os.WNOHANG)[0]:
            return False
    return _running(pid)


def _running(pid: int) -> bool:
    """Some thread of ``pid`` has not exited. A leader shows ``Z`` as soon as its own thread
    ends, while the others still exit holding the process's files (its listening socket)."""
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:  # gone meanwhile; or no /proc here, where kill(pid, 0) has the last word
        return not os.path.isdir("/proc/self")
    for task in tasks:
        with contextlib.suppress(OSError):
            stat = Path(f"/proc/{pid}/task/{task}/stat").read_text()
            if stat.rpartition(")")[2].split()[:1] not in (["Z"], ["X"]):
                return True
    return False


def signal_group(pid: int, sig: signal.Signals) -> None:
    """Signal a process group, if it still exists."""
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)
