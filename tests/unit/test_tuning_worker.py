"""Trial workers sharing one budget on a journal file (real Optuna, no MLflow)."""

from __future__ import annotations

import threading
import time

from jupyter_mlplat.tuning import storage as st
from jupyter_mlplat.tuning.worker import run_worker


def objective(trial):
    x = trial.suggest_float("x", -1, 1)
    time.sleep(0.01 if trial.number % 3 else 0.03)  # uneven trials: workers drift apart
    return x * x


def pull(url: str, name: str, until: int, workers: int) -> list[int]:
    ran = [0] * workers

    def work(index: int) -> None:
        ran[index] = run_worker(url, name, objective, until, until=until)

    threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return ran


def test_workers_pull_exactly_the_budget_then_resume(tmp_path):
    url = st.journal_url(tmp_path, "pull")
    study = st.prepare_study(url, "pull", "minimize", "median", new=True)
    ran = pull(url, "pull", 13, workers=3)
    assert sum(ran) == 13
    assert len(study.get_trials(deepcopy=False)) == 13
    # a resumed session's budget counts on from the trials already there
    assert sum(pull(url, "pull", 13 + 5, workers=2)) == 5
    assert len(study.get_trials(deepcopy=False)) == 18


def test_a_stopped_study_pulls_no_more_trials(tmp_path):
    url = st.journal_url(tmp_path, "stopped")
    study = st.prepare_study(url, "stopped", "minimize", "median", new=True)
    st.set_stop(study, True)
    assert pull(url, "stopped", 10, workers=2) == [0, 0]
    assert study.get_trials(deepcopy=False) == []


def test_workers_share_the_budget_on_sqlite_too(tmp_path):
    url = f"sqlite:///{tmp_path / 'studies.db'}"
    assert st.shares_budget(url) and not st.shares_budget("mysql://db/studies")
    study = st.prepare_study(url, "pull-rdb", "minimize", "median", new=True)
    assert sum(pull(url, "pull-rdb", 9, workers=3)) == 9
    assert len(study.get_trials(deepcopy=False)) == 9


def test_pods_fix_their_session_budget_among_themselves(tmp_path):
    """Pods cannot be told how many trials the study holds: the first to claim a trial sets
    the session's budget; a later session (a resumed study) counts on from there."""
    url = f"sqlite:///{tmp_path / 'pods.db'}"
    study = st.prepare_study(url, "pods", "minimize", "median", new=True)

    def session(name: str, trials: int, workers: int) -> int:
        ran = [0] * workers

        def work(index: int) -> None:
            ran[index] = run_worker(url, "pods", objective, trials, session=name)

        threads = [threading.Thread(target=work, args=(i,)) for i in range(workers)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        return sum(ran)

    assert session("first", 7, workers=3) == 7
    assert session("again", 4, workers=2) == 4
    assert len(study.get_trials(deepcopy=False)) == 11
