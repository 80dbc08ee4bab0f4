"""Tuning: 32 trials of a fixed CPU-bound objective (~0.4 s busy loop) — parallel ÷ sequential,
and what tracking every trial in MLflow costs ÷ bare Optuna.

Measured in the same run, same objective, same machine:

* bare Optuna: ``optuna.create_study().optimize(objective, n_trials=32)`` in memory, no MLflow;
* bare Optuna on a journal file: the same on the storage the platform uses locally, no MLflow
  (what tracking adds is the platform ÷ this);
* platform in-thread: ``tune(..., parallel="none")`` (journal file, parent + 32 child runs; the
  trials share the caller's GIL with the thread that logs them);
* platform sequential: ``tune(..., parallel="local", workers=1)`` (one trial process, the
  logging in the caller's process);
* platform local: ``tune(..., parallel="local")`` (one worker process per core);
* platform Spark: ``tune(..., parallel="spark")`` through the Spark Connect session (local[*]).

Prints wall times, the speed-ups (sequential ÷ parallel; goal ≥ 1.8 on 2 cores) and the
tracking overhead (platform ÷ bare Optuna, whole study and per trial; goal ≤ 1.10). Per mode
also the phases, from the trials' own timestamps (less sensitive to other load than the ratios):
start to the first trial (set-up, worker start, imports), the first trial, the steady rate
(trials/s between the first and the last trial's end), the tail (the last trial's end to the
study's: the coordinator's lag); and the CPU seconds of this process (the coordinator, in-thread
trials), of the trial worker processes (forked by the worker server, which reports their CPU),
and of the servers (MLflow; Spark with its Python workers). For the parallel modes also the
best speed-up their CPU allows: all the CPU a study used (trials, coordinator, MLflow, Spark)
spread evenly over the cores, against the sequential study's wall time (the sequential study
leaves its MLflow and coordinator CPU to the idle core). And the machine's own ceiling: the
objective's loop alone, in one process and then split over every core at once (a loop takes
more CPU when all cores are busy, so no scheduler gets the full core count). A warm-up
study before the measured ones (one trial, ``local`` with one worker) imports MLflow here,
warms the MLflow server and starts the kernel's trial worker server, as a notebook's first
local study does; its start to first trial is printed (the cold case), and both measured local
modes then fork from the warm server, the sequential baseline as much as the parallel study.
Asserts nothing. Starts its own MLflow + Spark Connect servers under a temporary directory, or
uses a running platform:

    .venv/bin/python benchmarks/tuning.py [--trials 32] [--seconds 0.4] [--state-dir DIR]
"""

from __future__ import annotations

import argparse
import inspect
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

os.environ.setdefault("MLFLOW_DISABLE_TELEMETRY", "true")
sys.path.insert(0, str(Path(__file__).resolve().parent))

# the same servers as the other benchmarks
from batch_predict import servers

#: Loop iterations of the objective; calibrated at start to the requested seconds.
WORK = {"n": 2_000_000}


def busy(n: int) -> int:
    total = 0
    for i in range(n):
        total += i * i % 7
    return total


def objective(trial):  # type: ignore[no-untyped-def]
    x = trial.suggest_float("x", -5, 5)
    trial.suggest_int("depth", 1, 8)
    busy(WORK["n"])
    return (x - 1) ** 2


def ceiling(trials: int, cores: int) -> tuple[float, float, float, float]:
    """The objective's loop alone, ``trials`` times: in one process, then split over ``cores``
    processes at once — the speed-up this machine allows the objective, with no Optuna, MLflow
    or coordination. Wall and CPU seconds of each (the CPU a loop takes grows when both cores
    are busy: that alone caps the speed-up below ``cores``)."""
    program = inspect.getsource(busy) + "import sys\nfor _ in range(int(sys.argv[1])):\n" \
        f"    busy({WORK['n']})\n"  # fmt: skip

    def run(shares: list[int]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        loops = [subprocess.Popen([sys.executable, "-c", program, str(k)]) for k in shares]
        for loop in loops:
            loop.wait()
        wall = time.perf_counter() - started
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        return wall, after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime

    one_wall, one_cpu = run([trials])
    spread = [trials // cores + (i < trials % cores) for i in range(cores)]
    all_wall, all_cpu = run(spread)
    return one_wall, one_cpu, all_wall, all_cpu


def calibrate(seconds: float) -> None:
    """The loop's length for ``seconds`` of CPU (CPU, not wall time: the same work whatever the
    machine's load, which would otherwise shrink the objective next to the fixed costs)."""
    started = time.process_time()
    busy(2_000_000)
    WORK["n"] = int(2_000_000 * seconds / (time.process_time() - started))


def identity(batches):  # type: ignore[no-untyped-def]
    yield from batches


def trial_seconds(study) -> float:  # type: ignore[no-untyped-def]
    """Median duration of a study's trials (start to complete, as Optuna records them)."""
    return statistics.median(
        (t.datetime_complete - t.datetime_start).total_seconds()
        for t in study.get_trials(deepcopy=False)
        if t.datetime_complete is not None
    )


def server_cpu() -> dict[int, tuple[str, float]]:
    """CPU seconds of every live process below this one, by pid, with its server's name (the
    trial worker server's own: its ended workers report theirs, see :func:`worker_cpu`)."""
    import psutil

    found = {}
    for child in psutil.Process().children():
        try:
            command = " ".join(child.cmdline())
            if "tuning.forkserver" in command:
                times = child.cpu_times()
                found[child.pid] = ("workers", times.user + times.system)
                continue
            name = "mlflow" if "mlflow" in command else "spark"
            for proc in [child, *child.children(recursive=True)]:
                times = proc.cpu_times()
                found[proc.pid] = (name, times.user + times.system)
        except psutil.Error:
            continue
    return found


def worker_cpu() -> float:
    """CPU seconds of the local trial workers that ended: they are children of the kernel's
    (here: this process's) worker server, which reports them."""
    from jupyter_mlplat.tuning import forkserver

    return forkserver._server.cpu_seconds if forkserver._server is not None else 0.0


class Meter:
    """Wall and CPU time of one mode, split by where they were spent."""

    def __init__(self) -> None:
        self.wall = time.time()
        self.cpu = time.process_time()
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        self.children = usage.ru_utime + usage.ru_stime + worker_cpu()
        self.servers = server_cpu()

    def done(self) -> dict[str, float]:
        usage = resource.getrusage(resource.RUSAGE_CHILDREN)
        spent = {"wall": time.time() - self.wall, "this process": time.process_time() - self.cpu,
                 "workers": usage.ru_utime + usage.ru_stime + worker_cpu() - self.children,
                 "mlflow": 0.0, "spark": 0.0}  # fmt: skip
        for pid, (name, seconds) in server_cpu().items():
            spent[name] += seconds - self.servers.get(pid, (name, 0.0))[1]
        return spent


def phases(study, started: float, ended: float) -> str:  # type: ignore[no-untyped-def]
    """Start to first trial, first trial, steady trials/s, tail (see the module's docstring)."""
    trials = [t for t in study.get_trials(deepcopy=False) if t.datetime_complete is not None]
    begins = sorted(t.datetime_start.timestamp() for t in trials)
    ends = sorted(t.datetime_complete.timestamp() for t in trials)
    first = min(trials, key=lambda t: t.datetime_start)
    first_s = (first.datetime_complete - first.datetime_start).total_seconds()
    rate = (len(ends) - 1) / (ends[-1] - ends[0]) if len(ends) > 1 and ends[-1] > ends[0] else 0
    return (f"start→first trial {begins[0] - started:5.2f} s, first trial {first_s:4.2f} s, "
            f"steady {rate:4.2f} trials/s, tail {ended - ends[-1]:4.2f} s")  # fmt: skip


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--trials", type=int, default=32)
    args.add_argument("--seconds", type=float, default=0.4, help="objective's CPU time")
    args.add_argument("--state-dir", default="", help="use the platform running there")
    options = args.parse_args()

    with ExitStack() as stack:
        tracking_uri, remote = servers(stack, options.state_dir)
        import optuna
        from pyspark.sql import SparkSession

        from jupyter_mlplat.config import MLPlat
        from jupyter_mlplat.tuning import TuningSpec, start

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        spark = SparkSession.builder.remote(remote).getOrCreate()
        stack.callback(spark.stop)
        # warm the session and its Python workers (a Python UDF: a plain query starts none);
        # what a study imports there (optuna, the objective) is still measured
        spark.range(0, 4, 1, 4).mapInArrow(identity, "id long").collect()
        folder = stack.enter_context(tempfile.TemporaryDirectory(prefix="mlplat-tune-bench-"))
        config = MLPlat(
            env={
                "MLP_TRACKING_URI": tracking_uri,
                "MLP_EXPERIMENT": "/Users/bench/tuning",
                "MLP_TUNING_DIR": folder,
            }
        )
        os.environ["MLFLOW_TRACKING_URI"] = tracking_uri
        # a first study (not measured) imports MLflow in this process, warms the server and
        # starts the kernel's trial worker server (as a notebook's first local study does),
        # which would otherwise count against whichever mode runs first
        began = time.time()
        warm = start(lambda trial: trial.suggest_float("x", 0, 1), TuningSpec(trials=1,
                     parallel="local", workers=1, study_name="bench-warm-up", new=True),
                     config=config)  # fmt: skip
        warm.wait()
        cold = warm.study.get_trials(deepcopy=False)[0].datetime_start.timestamp() - began
        calibrate(options.seconds)
        n = options.trials
        print(f"{n} trials of a {options.seconds} CPU s busy loop; {os.cpu_count()} cores; "
              f"load {os.getloadavg()[0]:.1f}")  # fmt: skip

        meter = Meter()
        started = time.perf_counter()
        bare = optuna.create_study(sampler=optuna.samplers.TPESampler(seed=1))
        bare.optimize(objective, n_trials=n)
        bare_s = time.perf_counter() - started
        bare_cpu = meter.done()["this process"]

        from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

        journal = str(Path(folder) / "bare.log")
        storage = optuna.storages.JournalStorage(
            JournalFileBackend(journal, lock_obj=JournalFileOpenLock(journal))
        )
        started = time.perf_counter()
        bare_journal = optuna.create_study(
            storage=storage, sampler=optuna.samplers.TPESampler(seed=1)
        )
        bare_journal.optimize(objective, n_trials=n)
        journal_s = time.perf_counter() - started

        timings = {}
        per_trial = {}
        report = {}
        busy_cpu = {}
        modes = {"none": ("none", None), "one": ("local", 1), "local": ("local", None),
                 "spark": ("spark", None)}  # fmt: skip
        for mode, (parallel, workers) in modes.items():
            spec = TuningSpec(
                trials=n, parallel=parallel, workers=workers, study_name=f"bench-{mode}", new=True
            )
            meter = Meter()
            started = time.perf_counter()
            run = start(objective, spec, config=config, spark=spark)
            result = run.wait()
            timings[mode] = time.perf_counter() - started
            spent = meter.done()
            per_trial[mode] = trial_seconds(run.study)
            busy_cpu[mode] = sum(v for k, v in spent.items() if k != "wall")
            cpu = ", ".join(f"{k} {v:.1f}" for k, v in spent.items() if k != "wall")
            report[mode] = (
                f"{phases(run.study, meter.wall, meter.wall + spent['wall'])}; CPU s: {cpu}"
            )
            assert result.progress.complete == n, result.progress

        cores = os.cpu_count() or 1
        one_wall, one_cpu, all_wall, all_cpu = ceiling(n, cores)
        sequential = timings["one"]
        print(f"warm-up (a kernel's first study, cold worker server): start→first trial "
              f"{cold:.2f} s")  # fmt: skip
        print(f"bare Optuna (in memory, no MLflow):       {bare_s:6.1f} s ({bare_cpu:.1f} CPU s)")
        print(f"bare Optuna (journal file, no MLflow):    {journal_s:6.1f} s")
        labels = {"none": "in-thread", "one": "sequential", "local": "local", "spark": "Spark"}
        for mode, label in labels.items():
            print(f"platform {label:<10} (+ MLflow runs):      {timings[mode]:6.1f} s")
        for mode, label in labels.items():
            print(f"  {label:<10} {report[mode]}")
        print(f"speed-up local ÷ sequential:  {sequential / timings['local']:.2f}x (goal >= 1.8)")
        print(f"speed-up Spark ÷ sequential:  {sequential / timings['spark']:.2f}x (goal >= 1.8)")
        print(f"speed-up local ÷ bare Optuna: {bare_s / timings['local']:.2f}x")
        print(f"the machine's ceiling for this objective (its loop alone, {n} times, no Optuna "
              f"or MLflow): one process {one_wall:.1f} s ({one_cpu:.1f} CPU s), {cores} at once "
              f"{all_wall:.1f} s ({all_cpu:.1f} CPU s): best speed-up "
              f"{one_wall / all_wall:.2f}x")  # fmt: skip
        for mode in ("local", "spark"):
            floor = busy_cpu[mode] / cores
            print(f"CPU bound, {labels[mode]}: its CPU ({busy_cpu[mode]:.1f} s, tracking included) "
                  f"spread evenly over {cores} cores takes {floor:.2f} s: best speed-up "
                  f"{sequential / floor:.2f}x")  # fmt: skip
        for mode in ("one", "none"):
            print(
                f"overhead ÷ bare in memory, {labels[mode]}: whole study "
                f"{timings[mode] / bare_s:.3f}, per trial (median trial time) "
                f"{per_trial[mode] / trial_seconds(bare):.3f}"
            )
            print(
                f"MLflow tracking overhead (÷ bare on the same journal storage), "
                f"{labels[mode]}: whole study {timings[mode] / journal_s:.3f}, per trial "
                f"{per_trial[mode] / trial_seconds(bare_journal):.3f} (goal <= 1.10)"
            )
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
