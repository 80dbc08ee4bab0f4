"""Where a study lives (an Optuna journal file locally, an RDB in clusters) and the few study
attributes the platform keeps in it: the stop flag and the error of a failed trial."""

from __future__ import annotations

import contextlib
import fcntl
import os
import random
import time
from pathlib import Path
from typing import Any

#: Storage URLs of journal files: ``journal:///abs/path/study.journal``; anything else is an
#: SQLAlchemy URL (``postgresql+psycopg://...``) for Optuna's RDB storage.
JOURNAL = "journal://"
#: Study system attribute that tells every worker to start no further trial.
STOP_ATTR = "mlplat:stop"
#: Trial system attribute holding the one-line error of a failed trial.
ERROR_ATTR = "mlplat:error"
#: Tries to open an RDB storage (see :func:`open_storage`).
RDB_ATTEMPTS = 5


def journal_url(folder: Path, study_name: str) -> str:
    """One journal file per study: parallel writers of different studies never share a lock."""
    folder.mkdir(parents=True, exist_ok=True)
    return f"{JOURNAL}{(folder / f'{study_name}.journal').resolve()}"


def storage_kind(url: str) -> str:
    """``journal`` or ``rdb`` (the parent run's tag)."""
    return "journal" if url.startswith(JOURNAL) else "rdb"


def rdb_url(url: str) -> str:
    """``url`` for SQLAlchemy: a plain ``postgresql://`` URL gets psycopg 3, the PostgreSQL
    driver the platform ships (SQLAlchemy would look for psycopg2)."""
    for plain in ("postgresql://", "postgres://"):
        if url.startswith(plain):
            return "postgresql+psycopg://" + url[len(plain) :]
    return url


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    if url.startswith(JOURNAL):
        path = url[len(JOURNAL) :]
        # the open-lock (O_EXCL) works on every filesystem, symlinks not on all network ones
        backend = JournalFileBackend(path, lock_obj=JournalFileOpenLock(path))
        return optuna.storages.JournalStorage(backend)
    # Several pods opening a fresh database race to create Optuna's tables (the loser gets a
    # duplicate-key error from PostgreSQL's catalog): the tables exist by the next attempt.
    for attempt in range(RDB_ATTEMPTS):
        try:
            # pool_pre_ping: workers live for minutes, databases drop idle connections
            return optuna.storages.RDBStorage(rdb_url(url), engine_kwargs={"pool_pre_ping": True})
        except Exception:
            if attempt == RDB_ATTEMPTS - 1:
                raise
            time.sleep(0.2 + random.random() * (attempt + 1))  # noqa: S311 (jitter)
    raise AssertionError("unreachable")


def make_pruner(name: str) -> Any:
    import optuna

    return optuna.pruners.MedianPruner() if name == "median" else optuna.pruners.NopPruner()


def prepare_study(url: str, study_name: str, direction: str, pruner: str, new: bool) -> Any:
    """Create the study, or resume it (``new`` deletes the old one first); clear the stop flag."""
    import optuna

    storage = open_storage(url)
    if new:
        with contextlib.suppress(KeyError):
            optuna.delete_study(study_name=study_name, storage=storage)
    study = optuna.create_study(
        study_name=study_name,
        storage=storage,
        direction=direction,  # type: ignore[arg-type]  # validated by TuningSpec
        pruner=make_pruner(pruner),
        load_if_exists=True,
    )
    set_stop(study, False)
    return study


def load_study(url: str, study_name: str, pruner: str = "median", storage: Any = None) -> Any:
    import optuna

    return optuna.load_study(
        study_name=study_name, storage=storage or open_storage(url), pruner=make_pruner(pruner)
    )


def set_stop(study: Any, stop: bool) -> None:
    study._storage.set_study_system_attr(study._study_id, STOP_ATTR, stop)


def stop_requested(study: Any) -> bool:
    return bool(study._storage.get_study_system_attrs(study._study_id).get(STOP_ATTR))


class TrialClaim:
    """A lock beside a journal file that workers hold while they create a trial, so that
    counting the study's trials and adding one is atomic across processes and Spark tasks.

    ``flock``: the kernel wakes the next waiter at once (Optuna's file locks poll with a growing
    sleep) and frees the lock of a worker that died. ``release`` may be called more than once.
    """

    def __init__(self, url: str) -> None:
        if not url.startswith(JOURNAL):
            raise ValueError("trials are claimed beside a journal file only")
        self.path = url[len(JOURNAL) :] + ".claim"
        self._fd: int | None = None

    def __enter__(self) -> TrialClaim:
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
        except BaseException:
            os.close(fd)
            raise
        self._fd = fd
        return self

    def release(self) -> None:
        fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)  # closing the descriptor drops its lock

    def __exit__(self, *_exc: object) -> None:
        self.release()
