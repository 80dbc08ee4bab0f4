"""Secret files (Jupyter token, platform.json, kernel API token, sparkmagic config) are 0600 from
their first byte: created with O_EXCL and mode 0600, then renamed into place."""

from __future__ import annotations

import os
import stat
import threading
from pathlib import Path

import pytest

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.infra import files
from jupyter_mlplat.infra.files import write_private
from jupyter_mlplat.platform.local import LocalPlatform
from jupyter_mlplat.server.kernel_api import KernelApi


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_new_file_is_private_even_with_a_permissive_umask(tmp_path):
    old = os.umask(0)
    try:
        target = write_private(tmp_path / "token", "s3cret")
    finally:
        os.umask(old)
    assert mode(target) == 0o600 and target.read_text() == "s3cret"
    assert [p.name for p in tmp_path.iterdir()] == ["token"]


def test_an_existing_readable_file_is_replaced_not_rewritten(tmp_path):
    target = tmp_path / "platform.json"
    target.write_text("old")
    target.chmod(0o644)
    before = target.stat().st_ino
    write_private(target, "new")
    assert mode(target) == 0o600 and target.read_text() == "new"
    assert target.stat().st_ino != before  # a new file: the old inode never held the secret


def test_the_secret_is_never_in_a_file_others_can_read(tmp_path, monkeypatch):
    """Watch every file the helper opens: its mode is 0600 before the first byte is written."""
    seen: list[int] = []
    real_fdopen = os.fdopen

    def fdopen(fd: int, *args: object, **kwargs: object):  # type: ignore[no-untyped-def]
        seen.append(stat.S_IMODE(os.fstat(fd).st_mode))
        return real_fdopen(fd, *args, **kwargs)

    monkeypatch.setattr(files.os, "fdopen", fdopen)
    old = os.umask(0)
    try:
        write_private(tmp_path / "token", "s3cret")
    finally:
        os.umask(old)
    assert seen == [0o600]


def test_a_failed_write_leaves_nothing_behind(tmp_path, monkeypatch):
    def fail(*args: object, **kwargs: object) -> None:
        raise OSError("disk full")

    monkeypatch.setattr(Path, "replace", fail)
    with pytest.raises(OSError, match="disk full"):
        write_private(tmp_path / "token", "x")
    assert list(tmp_path.iterdir()) == []


def test_concurrent_writers_never_share_a_partial_file(tmp_path):
    target = tmp_path / "config.json"
    threads = [
        threading.Thread(target=write_private, args=(target, str(n) * 1000)) for n in range(8)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    content = target.read_text()
    assert len(set(content)) == 1 and len(content) == 1000
    assert [p.name for p in tmp_path.iterdir()] == ["config.json"]


def test_platform_token_runtime_file_and_kernel_token_use_it(tmp_path):
    platform = LocalPlatform(
        MLPlat(env={"MLP_STATE_DIR": str(tmp_path / "state")}), tmp_path, spark=False
    )
    platform.layout.root.mkdir(parents=True)
    token = platform._token()
    assert mode(platform.layout.token) == 0o600 and len(token) == 48
    assert platform._token() == token  # created once
    platform.runtime = {"token": token}
    platform._write_runtime()
    assert mode(platform.layout.runtime) == 0o600
    api = KernelApi.create(tmp_path / "runtime")
    assert mode(api.token_file) == 0o600
