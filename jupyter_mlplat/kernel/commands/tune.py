"""``%%mlp tune --trials N [--parallel local|spark|kubernetes|none] [--wait] ...``.

The cell defines ``def objective(trial): ...`` with plain Optuna (``trial.suggest_float(...)``,
``trial.suggest_int``, ``trial.suggest_categorical``) and returns the metric; for pruning it may
call ``trial.report(value, step)`` and raise ``optuna.TrialPruned()`` when
``trial.should_prune()``. The cell runs in the notebook's namespace, so data and imports of
earlier cells are there. An objective that raises fails its trial, not the study. With
``--register``, the objective runs once more on the best parameters with MLflow autolog on: fit
a model autolog knows (scikit-learn, XGBoost, ...) or log one with ``mlflow.<flavor>.log_model``.

The study is an MLflow parent run with one child run per trial. Running the cell again resumes the
study of the same name (default: from the notebook); ``--new`` starts a fresh one.

By default the cell returns at once and shows a live view (trials, best value, a Stop button, the
optimization history) while the study runs in the background; the run handle is kept in
``_mlp_tune`` (``_mlp_tune.stop()``, ``_mlp_tune.wait()`` -> the result, ``_mlp_tune.study``).
``--wait`` blocks until the study is over (in scripts, nbconvert, pipelines); interrupting the
kernel then stops the study cleanly. One study at a time per kernel.
"""

from __future__ import annotations

import argparse
import inspect
import logging
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.kernel.commands import ArgumentParser

#: The handle of the kernel's latest study in the user's namespace.
HANDLE = "_mlp_tune"
USAGE = "%%mlp tune --trials N on a cell that defines def objective(trial): ... return value"


def _positive_int(text: str) -> int:
    try:
        number = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a whole number is needed, not {text!r}") from None
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, not {number}")
    return number


def _positive_seconds(text: str) -> float:
    try:
        seconds = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"seconds are needed, not {text!r}") from None
    if not seconds > 0:  # also refuses nan
        raise argparse.ArgumentTypeError(f"must be more than 0 seconds, not {text}")
    return seconds


def parser() -> ArgumentParser:
    p = ArgumentParser("tune")
    p.add_argument("--trials", type=_positive_int, required=True, help="how many trials to run")
    p.add_argument(
        "--parallel",
        choices=["local", "spark", "kubernetes", "none"],
        default="local",
        help="where trials run: processes on this machine's cores (default), the Spark "
        "executors, a Kubernetes Job, or one after another in the kernel",
    )
    p.add_argument(
        "--workers",
        type=_positive_int,
        help="trials at the same time (default: the cores, the Spark task slots, or up to "
        "MLP_TUNING_MAX_PODS pods)",
    )
    p.add_argument(
        "--timeout", type=_positive_seconds, help="stop starting trials after this many seconds"
    )
    p.add_argument(
        "--direction",
        choices=["minimize", "maximize"],
        default="minimize",
        help="(default: minimize)",
    )
    p.add_argument("--metric", default="value", help="name of the returned metric in MLflow")
    p.add_argument("--name", help="study name (default: from the notebook); the same resumes")
    p.add_argument("--new", action="store_true", help="start the study afresh, not resume it")
    p.add_argument(
        "--register",
        metavar="MODEL",
        help="at the end, re-fit the best trial's parameters and register its model as MODEL",
    )
    p.add_argument(
        "--pruner", choices=["median", "none"], default="median", help="(default: median)"
    )
    p.add_argument("--wait", action="store_true", help="block until the study is over")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> None:
    """Start the study of the cell's objective and show its live view (``--wait``: until done)."""
    options = parser().parse_args(args)
    if cell is None or not cell.strip():
        raise UsageError(f"%%mlp tune needs a cell body: {USAGE}")
    shell = magics.shell
    previous = shell.user_ns.get(HANDLE)
    if previous is not None and not getattr(previous, "done", True):
        raise UsageError(
            f"%%mlp tune: study {previous.study_name!r} is still running in this kernel: "
            f"stop it first (its Stop button or {HANDLE}.stop())"
        )
    from jupyter_mlplat.tuning import TuningSpec, start

    spec = TuningSpec(
        trials=options.trials,
        parallel=options.parallel,
        workers=options.workers,
        timeout=options.timeout,
        direction=options.direction,
        metric=options.metric,
        study_name=options.name,
        new=options.new,
        pruner=options.pruner,
        register=options.register,
    ).validated()  # a bad name or metric is refused before the cell runs
    spark = _spark(magics) if options.parallel == "spark" else None
    objective = define_objective(shell, cell)
    _quiet_study_threads()
    tuning = _quietly(start, objective, spec, config=magics.mlplat, spark=spark)
    shell.user_ns[HANDLE] = tuning

    from jupyter_mlplat.kernel.render import server_base_path
    from jupyter_mlplat.kernel.tuning_view import TuningView

    view = TuningView(
        tuning,
        direction=options.direction,
        metric=options.metric,
        base_path=server_base_path(),
        wait=options.wait,
        register=options.register,
    )
    view.display()
    if options.wait:
        view.wait()


def _quietly(call: Any, *args: Any, **kwargs: Any) -> Any:
    """``call`` without Optuna's INFO lines (``A new study created ...``): the view says it.
    The user's own Optuna logging level is back afterwards."""
    import optuna

    level = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        return call(*args, **kwargs)
    finally:
        optuna.logging.set_verbosity(level)


class _StudyThreadsFilter(logging.Filter):
    """Drops Optuna's INFO lines (``Trial 3 finished with value ...``) logged by the study's own
    threads (``mlplat-tune-*``, trials of ``--parallel none``): the view shows them."""

    def filter(self, record: logging.LogRecord) -> bool:
        return record.levelno >= logging.WARNING or not (record.threadName or "").startswith(
            "mlplat-tune"
        )


def _quiet_study_threads() -> None:
    import optuna  # noqa: F401  (its import puts Optuna's own handler on the "optuna" logger)

    for handler in logging.getLogger("optuna").handlers:
        if not any(isinstance(f, _StudyThreadsFilter) for f in handler.filters):
            handler.addFilter(_StudyThreadsFilter())


def _spark(magics: Any) -> Any:
    if not magics.spark.provides_session:
        raise UsageError("%%mlp tune --parallel spark needs the platform's Spark session")
    return magics.spark.session or magics.spark.attach()


def define_objective(shell: Any, cell: str) -> Any:
    """Run the cell in the user's namespace; the ``objective`` it defines (a callable of one
    argument, defined by this cell and not left over from an earlier one)."""
    before = shell.user_ns.get("objective")
    source = shell.transform_cell(cell)  # %magics and !shell lines work as in any cell
    filename = shell.compile.cache(source, shell.execution_count, raw_code=cell)  # tracebacks
    exec(shell.compile(source, filename, "exec"), shell.user_global_ns, shell.user_ns)  # noqa: S102
    objective = shell.user_ns.get("objective")
    if objective is None or objective is before:
        raise UsageError(f"%%mlp tune: the cell does not define objective(trial). {USAGE}")
    if not callable(objective):
        raise UsageError(f"%%mlp tune: objective is a {type(objective).__name__}, not a function")
    try:
        inspect.signature(objective).bind(None)
    except TypeError:
        raise UsageError("%%mlp tune: objective must take one argument, the trial") from None
    except ValueError:  # a builtin without a signature: let Optuna call it
        pass
    return objective
