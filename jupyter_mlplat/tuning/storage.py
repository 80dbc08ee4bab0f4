"""Where a study lives (an Optuna journal file locally, an RDB in clusters) and the few study
attributes the platform keeps in it: the stop flag and the error of a failed trial."""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
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
#: Study system attribute (``:<session>``) holding a session's shared trial budget (pods).
BUDGET_ATTR = "mlplat:until"
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
    from optuna.storages.journal import JournalFileBackend

    if url.startswith(JOURNAL):
        path = url[len(JOURNAL) :]
        backend = JournalFileBackend(path, lock_obj=_journal_lock(path))
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


def _journal_lock(path: str) -> Any:
    """The journal's write lock, with ``flock`` like :class:`TrialClaim`: a waiting worker
    wakes as soon as the lock is free, where Optuna's file locks retry with a doubling sleep
    (parallel workers writing every trial's parameters and results meet there often), and a
    dead worker's lock goes with it instead of after a 30 s grace period. Every writer of a
    platform study takes this lock (its own file: Optuna's lock files mean "held" by
    existing)."""
    from optuna.storages.journal._file import BaseJournalFileLock

    class FlockLock(BaseJournalFileLock):
        def __init__(self) -> None:
            self.claim = TrialClaim(path + ".flock")

        def acquire(self) -> bool:
            self.claim.__enter__()
            return True

        def release(self) -> None:
            self.claim.release()

    return FlockLock()


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


def shares_budget(url: str) -> bool:
    """Whether workers on this storage can share one trial budget (see :func:`trial_claim`):
    journal files and SQLite beside a lock file, PostgreSQL with an advisory lock."""
    return url.startswith((JOURNAL, "sqlite:///")) or _is_postgres(url)


def trial_claim(url: str, study_name: str) -> Any:
    """The lock workers hold while they count a study's trials and create one: counting and
    adding is then atomic across processes, Spark tasks and pods. A context manager whose
    ``release`` (callable more than once) hands the lock on before the ``with`` ends."""
    if url.startswith(JOURNAL):
        return TrialClaim(url[len(JOURNAL) :] + ".claim")
    if url.startswith("sqlite:///"):
        return TrialClaim(url[len("sqlite:///") :].partition("?")[0] + ".claim")
    if _is_postgres(url):
        return AdvisoryClaim(url, study_name)
    raise ValueError(f"workers cannot share a trial budget on {url.partition(':')[0]} storage")


def _is_postgres(url: str) -> bool:
    return url.partition(":")[0].partition("+")[0] in ("postgresql", "postgres")


class TrialClaim:
    """A lock file (beside a journal file or SQLite database), taken with ``flock``: the
    kernel wakes the next waiter at once (Optuna's file locks poll with a growing sleep) and
    frees the lock of a worker that died."""

    def __init__(self, path: str) -> None:
        self.path = path
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

    def close(self) -> None:
        """Done with claiming (as :meth:`AdvisoryClaim.close`): nothing stays open."""
        self.release()


class AdvisoryClaim:
    """A PostgreSQL session advisory lock keyed by the study's name, on one connection the
    worker keeps: no table of our own, and the server frees the lock of a worker that died
    (its connection closes)."""

    def __init__(self, url: str, study_name: str) -> None:
        digest = hashlib.sha256(f"mlplat-tuning:{study_name}".encode()).digest()
        self.key = int.from_bytes(digest[:8], "big", signed=True)
        self.url = url
        self._connection: Any = None
        self._held = False

    def __enter__(self) -> AdvisoryClaim:
        import sqlalchemy

        if self._connection is None:
            engine = sqlalchemy.create_engine(rdb_url(self.url), poolclass=sqlalchemy.pool.NullPool)
            self._connection = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
        self._connection.execute(sqlalchemy.text("SELECT pg_advisory_lock(:k)"), {"k": self.key})
        self._held = True
        return self

    def release(self) -> None:
        import sqlalchemy

        if self._held:
            self._held = False
            self._connection.execute(
                sqlalchemy.text("SELECT pg_advisory_unlock(:k)"), {"k": self.key}
            )

    def __exit__(self, *_exc: object) -> None:
        self.release()

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None
