"""Where a study lives (an Optuna journal file locally, an RDB in clusters) and the few study
attributes the platform keeps in it: the stop flag and the error of a failed trial."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

#: Storage URLs of journal files: ``journal:///abs/path/study.journal``; anything else is an
#: SQLAlchemy URL (``postgresql+psycopg://...``) for Optuna's RDB storage.
JOURNAL = "journal://"
#: Study system attribute that tells every worker to start no further trial.
STOP_ATTR = "mlplat:stop"
#: Trial system attribute holding the one-line error of a failed trial.
ERROR_ATTR = "mlplat:error"


def journal_url(folder: Path, study_name: str) -> str:
    """One journal file per study: parallel writers of different studies never share a lock."""
    folder.mkdir(parents=True, exist_ok=True)
    return f"{JOURNAL}{(folder / f'{study_name}.journal').resolve()}"


def storage_kind(url: str) -> str:
    """``journal`` or ``rdb`` (the parent run's tag)."""
    return "journal" if url.startswith(JOURNAL) else "rdb"


def open_storage(url: str) -> Any:
    """An Optuna storage for ``url``."""
    import optuna
    from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

    if url.startswith(JOURNAL):
        path = url[len(JOURNAL) :]
        # the open-lock (O_EXCL) works on every filesystem, symlinks not on all network ones
        backend = JournalFileBackend(path, lock_obj=JournalFileOpenLock(path))
        return optuna.storages.JournalStorage(backend)
    # pool_pre_ping: workers live for minutes, databases drop idle connections
    return optuna.storages.RDBStorage(url, engine_kwargs={"pool_pre_ping": True})


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
