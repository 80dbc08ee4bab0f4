"""The model-server zygote: runs in the serving environment (not the notebook's), imports
MLServer, mlserver-mlflow, MLflow and scikit-learn once, then forks one ``mlserver start
<dir>`` per request, so a model server skips the ~4-8 CPU seconds of imports and is ready in
about a second.

Started by ``jupyter_mlplat.deploy.forks`` as ``python zygote.py <socket> <idle seconds>``;
it listens on the Unix socket only once the imports are done (a client that can connect
gets a warm server). One request per connection, a JSON line ``{"dir": ..., "log": ...}``;
the answer is ``{"pid": N}`` or ``{"error": "..."}``. Each server is a child in its own
session and process group (stopped like a server started directly); the zygote never waits
for its children (SIGCHLD ignored: the kernel reaps them), and it exits after ``idle``
seconds without a request, so it costs memory only while deployments are being made.

Only the standard library and the serving environment are imported here: no
``jupyter_mlplat``.
"""

from __future__ import annotations

import gc
import importlib
import json
import os
import signal
import socket
import sys
import threading
import time

#: What every MLflow model server imports, in the order that keeps it cheap: skops
#: (scikit-learn's safe format, mlflow 3's default) looks every sklearn type up in
#: ``sys.modules`` when it is imported (~3 CPU s after MLServer's imports, ~1 s before them).
WARM = (
    "skops.io",
    "pandas",
    "sklearn.base",
    "sklearn.linear_model",
    "mlflow.pyfunc",
    "mlflow.sklearn",
    "mlserver.cli.main",
    "mlserver.rest",
    "mlserver.grpc",
    "mlserver_mlflow",
)


def warm() -> None:
    """Import :data:`WARM` (what is missing in this environment is skipped)."""
    for name in WARM:
        try:
            importlib.import_module(name)
        except ImportError as err:
            print(f"zygote: not preloaded: {name} ({err})", flush=True)
    try:
        # the model-requirements check at load maps installed packages to modules (~0.7 s,
        # cached per process): build that map once here, every fork inherits it
        from mlflow.utils import requirements_utils

        requirements_utils._init_packages_to_modules_map()
    except Exception as err:  # a private helper: without it the check is only slower
        print(f"zygote: requirements map not preloaded ({err})", flush=True)


def serve_child(server_dir: str, log: str) -> None:
    """In the forked child: become ``mlserver start server_dir``; never returns."""
    code = 1
    try:
        os.setsid()  # its own process group, as a server started directly
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        gc.unfreeze()
        out = os.open(log, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o644)
        null = os.open(os.devnull, os.O_RDONLY)
        os.dup2(null, 0)
        os.dup2(out, 1)
        os.dup2(out, 2)
        os.close(out)
        os.close(null)
        os.chdir(server_dir)
        from mlserver.cli.main import main

        sys.argv = ["mlserver", "start", server_dir]
        main()
        code = 0
    except SystemExit as done:
        code = done.code if isinstance(done.code, int) else (0 if done.code is None else 1)
    except BaseException:
        import traceback

        traceback.print_exc()
    finally:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def handle(conn: socket.socket, listener: socket.socket) -> None:
    with conn, conn.makefile("rwb") as stream:
        try:
            request = json.loads(stream.readline())
            server_dir, log = str(request["dir"]), str(request["log"])
        except (ValueError, KeyError, TypeError) as err:
            stream.write(json.dumps({"error": f"bad request: {err}"}).encode() + b"\n")
            return
        pid = os.fork()
        if pid == 0:
            stream.close()  # the child keeps no end of the zygote's sockets
            conn.close()
            listener.close()
            serve_child(server_dir, log)
        stream.write(json.dumps({"pid": pid}).encode() + b"\n")


def main() -> None:
    path, idle = sys.argv[1], float(sys.argv[2])
    started = time.monotonic()
    warm()
    if threading.active_count() > 1:  # forking with threads could copy a held lock
        print(f"zygote: threads after imports: {threading.enumerate()}", flush=True)
    # the imported modules live in every child: keep the collector off their pages, so
    # they stay shared copy-on-write
    gc.collect()
    gc.freeze()
    signal.signal(signal.SIGCHLD, signal.SIG_IGN)  # children reaped by the kernel
    staging = f"{path}.{os.getpid()}"
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(staging)
    os.chmod(staging, 0o600)
    listener.listen(16)
    inode = os.stat(staging).st_ino
    os.replace(staging, path)  # clients connect only to a warm zygote
    print(f"zygote: ready in {time.monotonic() - started:.1f} s "
          f"(cpu {time.process_time():.1f} s)", flush=True)  # fmt: skip
    listener.settimeout(idle)
    while True:
        try:
            conn, _ = listener.accept()
        except TimeoutError:
            break
        conn.settimeout(10)
        try:
            handle(conn, listener)
        except OSError as err:
            print(f"zygote: {err}", flush=True)
    # idle: leave, unless a newer zygote took the socket path over
    try:
        if os.stat(path).st_ino == inode:
            os.unlink(path)
    except OSError:
        pass


if __name__ == "__main__":
    main()
