"""A fork server for the local hub's user servers: their libraries imported once, not per login.

A user's server (``jupyterhub-singleuser``) spends most of its start importing Jupyter Server,
JupyterLab, their extensions and JupyterHub's single-user code (which pulls in the hub's
handlers, ORM, SQLAlchemy and Alembic): seconds of CPU for every login. This process imports
them once and starts nothing (no event loop, no thread: checked before it serves); for each
spawn it forks a child that takes the user's environment, working directory and arguments, and
runs ``jupyterhub-singleuser``'s ``main`` as a new process would. The hub talks to it over a
Unix socket only it can reach (mode 0600 in the hub's private folder); the spawner tracks the
child by its pid, as it does a server the hub found running after a restart.

Run by :class:`~jupyter_mlplat.hub.local.LocalHub` next to the hub, stopped with it:
``python -m jupyter_mlplat.hub.forkserver <socket> [--parent PID]``.
"""

from __future__ import annotations

import importlib
import json
import os
import signal
import socket
import sys
import threading
import time
from pathlib import Path
from typing import Any

from jupyter_mlplat.infra.processes import run_forked_child

#: What a user's server imports at start (those not installed are skipped).
PRELOAD = (
    "jupyterhub.singleuser",
    "jupyterhub.singleuser.extension",
    "jupyter_server.serverapp",
    "jupyterlab.labapp",
    "jupyter_lsp",
    "jupyter_server_terminals",
    "notebook.app",
    "notebook_shim",
    "jupyter_mlplat.server.app",
)
#: Variables read when Python starts or when these libraries are imported: a server whose
#: environment sets them otherwise than the fork server's is refused (the spawner then starts it
#: as a new process). So is every ``PYTHON*`` variable the server's environment sets.
STARTUP_VARIABLES = (
    "JUPYTERHUB_SINGLEUSER_EXTENSION",
    "JUPYTERHUB_SINGLEUSER_APP",
    "JUPYTERHUB_SINGLEUSER_LOAD_OTHER_EXTENSIONS",
    "JUPYTER_ALLOW_INSECURE_WRITES",
    "GATEWAY_WS_PING_INTERVAL_SECS",
    "TRAITLETS_APPLICATION_RAISE_CONFIG_FILE_ERROR",
    "LANG",
    "LC_ALL",
    "LC_CTYPE",
)
#: The largest request: argv + environment of one server.
MAX_REQUEST = 1 << 20


def preload(modules: tuple[str, ...] = PRELOAD) -> float:
    """Import ``modules``; the CPU seconds it took. Refuses to serve if any of them started a
    thread: a forked child would lack it."""
    started = time.process_time()
    for name in modules:
        try:
            importlib.import_module(name)
        except ImportError:
            continue
    if threading.active_count() != 1 or len(os.listdir("/proc/self/task")) != 1:
        raise RuntimeError("a preloaded module started a thread: forking is not safe")
    return time.process_time() - started


def spawn(request: dict[str, Any]) -> int:
    """Fork a user's server; the child's pid (in the parent)."""
    argv, env, cwd = request["argv"], request["env"], request["cwd"]
    if not (isinstance(argv, list) and argv and all(isinstance(a, str) for a in argv)):
        raise ValueError("argv: a list of strings")
    if not (isinstance(env, dict) and all(isinstance(v, str) for v in env.values())):
        raise ValueError("env: an object of strings")
    if not (isinstance(cwd, str) and os.path.isabs(cwd)):
        raise ValueError("cwd: an absolute path")
    names = {*STARTUP_VARIABLES, *(name for name in env if name.startswith("PYTHON"))}
    differing = sorted(name for name in names if env.get(name) != os.environ.get(name))
    if differing:
        raise ValueError(f"set otherwise than when the fork server started: {', '.join(differing)}")
    pid = os.fork()
    if pid:
        return pid
    run_forked_child(lambda: _become_server(argv, env, cwd))


def _become_server(argv: list[str], env: dict[str, str], cwd: str) -> object:
    """In the child: a new session, as Popen(start_new_session=True) makes it, then the server."""
    os.closerange(3, os.sysconf("SC_OPEN_MAX"))  # the fork server's sockets
    os.setsid()
    signal.signal(signal.SIGCHLD, signal.SIG_DFL)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    Path(cwd).mkdir(parents=True, exist_ok=True)
    os.chdir(cwd)
    os.environ.clear()
    os.environ.update(env)
    devnull = os.open(os.devnull, os.O_RDONLY)
    os.dup2(devnull, 0)
    os.close(devnull)
    sys.argv = argv
    from jupyterhub.singleuser import main

    return main()


def serve(path: Path, parent: int = 0) -> None:
    """Answer spawn requests on the Unix socket ``path`` until the parent process is gone."""
    seconds = preload()
    print(f"mlplat fork server: preloaded in {seconds:.2f} s CPU", file=sys.stderr, flush=True)
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children are reaped by the kernel
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))  # the socket file removed
    path.unlink(missing_ok=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    old_mask = os.umask(0o177)
    try:
        listener.bind(str(path))
    finally:
        os.umask(old_mask)
    listener.listen(16)
    listener.settimeout(1.0)
    try:
        while not parent or os.getppid() == parent:
            try:
                connection, _ = listener.accept()
            except TimeoutError:
                continue
            with connection:
                answer(connection)
    finally:
        listener.close()
        path.unlink(missing_ok=True)


def answer(connection: socket.socket) -> None:
    """One request: a JSON object in, ``{"pid": N}`` or ``{"error": "..."}`` out."""
    connection.settimeout(10)
    data = b""
    try:
        while not data.endswith(b"\n") and len(data) < MAX_REQUEST:
            chunk = connection.recv(65536)
            if not chunk:
                break
            data += chunk
        reply: dict[str, Any] = {"pid": spawn(json.loads(data))}
    except Exception as err:  # a bad request is answered, the server keeps serving
        reply = {"error": f"{type(err).__name__}: {err}"}
    connection.sendall(json.dumps(reply).encode() + b"\n")


def request_spawn(path: str, argv: list[str], env: dict[str, str], cwd: str) -> int:
    """Ask the fork server at ``path`` for a server; its pid. Raises ``OSError`` when the fork
    server is not there or refuses."""
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as client:
        client.settimeout(30)
        client.connect(path)
        client.sendall(json.dumps({"argv": argv, "env": env, "cwd": cwd}).encode() + b"\n")
        data = b""
        while not data.endswith(b"\n"):
            chunk = client.recv(65536)
            if not chunk:
                break
            data += chunk
    reply = json.loads(data or b"{}")
    if "pid" not in reply:
        raise OSError(f"fork server: {reply.get('error', 'no answer')}")
    return int(reply["pid"])


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("socket")
    parser.add_argument("--parent", type=int, default=0, help="exit when this process is gone")
    args = parser.parse_args()
    serve(Path(args.socket), args.parent)


if __name__ == "__main__":
    main()
