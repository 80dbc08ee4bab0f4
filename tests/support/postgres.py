"""A real PostgreSQL server for tests: ``initdb`` + ``pg_ctl`` on a free loopback port.

The server runs from a temporary directory and is stopped (and removed) after the session.
PostgreSQL refuses to run as root: under root it runs as the ``postgres`` account (or
``MLP_TEST_POSTGRES_USER``), which gets the directory.

Fixtures (register with ``pytest_plugins = ["tests.support.postgres"]``):

- ``postgres_server`` (session): the running :class:`Postgres`;
- ``postgres_url``: a URL to a fresh, empty database per test (``postgresql://...``).
"""

from __future__ import annotations

import contextlib
import os
import pwd
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from jupyter_mlplat.infra.processes import free_port

BIN = Path(os.environ.get("MLP_TEST_POSTGRES_BIN", "/usr/lib/postgresql/15/bin"))
SUPERUSER = "mlplat"


@dataclass
class Postgres:
    """A running server: its port, data directory and the OS account it runs as."""

    port: int
    data_dir: Path
    os_user: str | None  # None: this process's own account

    def url(self, database: str = "postgres") -> str:
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    def create_database(self, name: str | None = None) -> str:
        """A new empty database; its URL."""
        import psycopg

        name = name or f"test_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.url(), autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.url(name)


def _as_user(os_user: str | None) -> dict[str, Any]:
    """Popen arguments that run a command as ``os_user`` (root may switch accounts)."""
    if os_user is None:
        return {}
    entry = pwd.getpwnam(os_user)
    return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}


def start(base: Path | None = None, timeout: float = 60) -> Postgres:
    """initdb a cluster in a temporary directory and start it on a free loopback port."""
    if not (BIN / "initdb").exists():
        pytest.fail(
            f"PostgreSQL server binaries not found in {BIN} (scripts/setup.sh --test installs them)"
        )
    os_user = None
    if os.geteuid() == 0:
        os_user = os.environ.get("MLP_TEST_POSTGRES_USER", "postgres")
        try:
            pwd.getpwnam(os_user)
        except KeyError:
            pytest.fail(f"running as root and there is no {os_user!r} account to run PostgreSQL")
    root = Path(tempfile.mkdtemp(prefix="mlplat-pg-", dir=base))
    data, socket_dir = root / "data", root / "socket"
    socket_dir.mkdir()
    if os_user is not None:
        entry = pwd.getpwnam(os_user)
        for path in (root, socket_dir):
            os.chown(path, entry.pw_uid, entry.pw_gid)
    run = _as_user(os_user)
    env = {"PATH": os.environ.get("PATH", ""), "LC_ALL": "C.UTF-8", "LANG": "C.UTF-8"}
    subprocess.run(
        [str(BIN / "initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=trust",
         "--encoding=UTF8", "--no-sync"],
        check=True, capture_output=True, cwd=root, env=env, **run,
    )  # fmt: skip
    port = free_port()
    options = (
        f"-c listen_addresses=127.0.0.1 -p {port} -c unix_socket_directories={socket_dir} "
        "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
        "-c shared_buffers=32MB -c max_connections=40"
    )
    subprocess.run(
        [str(BIN / "pg_ctl"), "-D", str(data), "-o", options, "-l", str(root / "server.log"),
         "-w", "-t", str(int(timeout)), "start"],
        check=True, capture_output=True, cwd=root, env=env, **run,
    )  # fmt: skip
    return Postgres(port, data, os_user)


def stop(server: Postgres) -> None:
    """Stop the server (fast shutdown) and remove its directory."""
    with contextlib.suppress(subprocess.SubprocessError, OSError):
        subprocess.run(
            [str(BIN / "pg_ctl"), "-D", str(server.data_dir), "-m", "fast", "-w", "stop"],
            check=False, capture_output=True, timeout=60, cwd=server.data_dir.parent,
            **_as_user(server.os_user),
        )  # fmt: skip
    shutil.rmtree(server.data_dir.parent, ignore_errors=True)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[Postgres]:
    """One PostgreSQL server for the whole session."""
    server = start()
    yield server
    stop(server)


@pytest.fixture
def postgres_url(postgres_server: Postgres) -> str:
    """A fresh empty database of the session's server."""
    return postgres_server.create_database()
