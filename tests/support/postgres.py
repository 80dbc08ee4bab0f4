"""A real PostgreSQL server for the tests (the Debian binaries), on a free loopback port.

PostgreSQL refuses to run as root: when the tests do, the server runs as the ``postgres``
account over a data directory it owns."""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

BIN = Path("/usr/lib/postgresql/15/bin")


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextlib.contextmanager
def running_postgres(base: Path) -> Iterator[str]:
    """Start a throw-away server under ``base``; yield its SQLAlchemy URL (psycopg 3)."""
    if not (BIN / "postgres").exists():
        pytest.skip(f"PostgreSQL binaries missing in {BIN} (setup --test installs them)")
    user: str | None = None
    owned: Path | None = None
    if os.geteuid() == 0:
        # pytest's folders are private to root: the postgres account gets one of its own
        user = "postgres"
        account = pwd.getpwnam(user)
        owned = base = Path(tempfile.mkdtemp(prefix="mlplat-postgres-"))
        shutil.chown(base, account.pw_uid, account.pw_gid)
    data, sockets = base / "data", base / "sockets"
    base.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [BIN / "initdb", "-D", data, "-U", "postgres", "--auth=trust"],
        user=user, check=True, capture_output=True,
    )  # fmt: skip
    subprocess.run(["mkdir", "-p", sockets], user=user, check=True)
    port = _free_port()
    log = (base / "postgres.log").open("ab")
    server = subprocess.Popen(
        [BIN / "postgres", "-D", data, "-p", str(port), "-k", sockets,
         "-c", "listen_addresses=127.0.0.1", "-c", "fsync=off"],
        user=user, stdout=log, stderr=subprocess.STDOUT,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while subprocess.run(
            [BIN / "pg_isready", "-h", "127.0.0.1", "-p", str(port)], check=False,
            capture_output=True,
        ).returncode:  # fmt: skip
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError((base / "postgres.log").read_text()[-2000:])
            time.sleep(0.2)
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/postgres"
    finally:
        server.terminate()  # smart shutdown would wait for the clients: ask for fast
        with contextlib.suppress(subprocess.TimeoutExpired):
            server.wait(30)
        if server.poll() is None:
            server.kill()
        if owned is not None:
            shutil.rmtree(owned, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """One PostgreSQL server for the session."""
    with running_postgres(tmp_path_factory.mktemp("postgres")) as url:
        yield url
