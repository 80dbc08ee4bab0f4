"""Tuning: 32 trials of a fixed CPU-bound objective (a busy loop of 2 CPU s, a small model's
fit) — parallel ÷ sequential, and what tracking every trial in MLflow costs ÷ bare Optuna.

Measured in the same run, same objective, same machine:

* bare Optuna: ``optuna.create_study().optimize(objective, n_trials=32)`` in memory, no MLflow;
* bare Optuna on a journal file: the same on the storage the platform uses locally, no MLflow
  (what tracking adds is the platform ÷ this);
* platform in-thread: ``tune(..., parallel="none")`` (journal file, parent + 32 child runs; the
  trials share the caller's GIL with the thread that logs them);
* platform sequential: ``tune(..., parallel="local", workers=1)`` (one trial process, the
  logging in the caller's process);
* platform local: ``tune(..., parallel="local")`` (one worker process per core);
* platform Spark: ``tune(..., parallel="spark")`` through the Spark Connect session (local[*]);
* the machine's ceiling: the objective's loop alone, in one process and then split over every
  core at once (a loop takes more CPU when all cores are busy, so no scheduler gets the full
  core count).

This machine's speed drifts by 5 to 20 % within minutes (other machines share its host), more
than the differences measured: every mode runs once per round (``--rounds``, default 3), each
round in another order, and the figures printed last are the medians of the rounds' own ratios
(each round's in brackets): the speed-ups (sequential ÷ parallel; goal ≥ 1.8 on 2 cores) and
the tracking overhead (platform ÷ bare Optuna, whole study and median trial; goal ≤ 1.10).

Per round and mode also the phases, from the trials' own timestamps: start to the first trial
(set-up, worker start, imports), the first trial, the steady rate (trials/s between the first
and the last trial's end), the tail (the last trial's end to the study's: the coordinator's
lag), the median trial; and the CPU seconds of this process (the coordinator, in-thread
trials), of the trial worker processes (forked by the worker server, which reports their CPU),
and of the servers (MLflow; Spark with its Python workers). For the parallel modes the best
speed-up their CPU allows: all the CPU a study used (trials, coordinator, MLflow, Spark) spread
evenly over the cores, against the sequential study's wall time (the sequential study leaves its
MLflow and coordinator CPU to the idle core).

The objective's length matters: each trial costs the platform a fixed ≈ 45 ms of CPU besides the
trial (MLflow's server writing its child run, the coordinator's client), which two busy cores
pay out of the trials' time; ``--seconds 0.4`` and ``--seconds 1`` show shorter trials.

A kernel's first study of each mode comes before the rounds (one trial, ``local`` and ``spark``):
it imports MLflow here, warms the MLflow server, starts the kernel's trial worker server and has
the Spark workers import the trial worker; its start to first trial is printed (the cold case).
Asserts nothing. Starts its own MLflow + Spark Connect servers under a temporary directory, or
uses a running platform:

    .venv/bin/python benchmarks/tuning.py [--trials 32] [--seconds 2] [--rounds 3] [--state-dir DIR]
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

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


#: The loop's source for the ceiling's fresh processes, read once (the file may change later).
BUSY_SOURCE = inspect.getsource(busy)


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
    program = BUSY_SOURCE + "import sys\nfor _ in range(int(sys.argv[1])):\n" \
        f"    busy({WORK['n']})\n"  # fmt: skip

    def run(shares: list[int]) -> tuple[float, float]:
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        started = time.perf_counter()
        loops = [subprocess.Popen([sys.executable, "-c", program, str(k)]) for k in shares]
        if any([loop.wait() for loop in loops]):  # every loop waited for
            raise RuntimeError("the ceiling's loop failed (its output is above)")
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


SHORT = {"none": "in-thread", "one": "sequential", "local": "local", "spark": "Spark"}
#: mode -> (parallel, workers) of the platform's studies
PLATFORM = {"none": ("none", None), "one": ("local", 1), "local": ("local", None),
            "spark": ("spark", None)}  # fmt: skip
#: What a round measures, in its first round's order (each round starts further on).
ORDER = ["bare", "journal", "none", "one", "local", "spark", "ceiling"]


@dataclass
class Measured:
    """One mode in one round: wall seconds, median trial seconds, CPU seconds by where they
    were spent (the ceiling: its all-cores wall; one-process wall and CPU, all-cores CPU)."""

    wall: float
    trial: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    phases: str = ""


def measure(mode: str, n: int, tag: str, folder: str, config: Any, spark: Any) -> Measured:
    """Run ``mode``'s ``n`` trials (or the machine's ceiling) once."""
    import optuna

    if mode == "ceiling":
        one_wall, one_cpu, all_wall, all_cpu = ceiling(n, os.cpu_count() or 1)
        return Measured(all_wall, cpu={"one wall": one_wall, "one": one_cpu, "all": all_cpu})
    meter = Meter()
    started = time.perf_counter()
    if mode in ("bare", "journal"):
        storage = None
        if mode == "journal":
            from optuna.storages.journal import JournalFileBackend, JournalFileOpenLock

            journal = str(Path(folder) / f"bare-{tag}.log")
            storage = optuna.storages.JournalStorage(
                JournalFileBackend(journal, lock_obj=JournalFileOpenLock(journal))
            )
        study = optuna.create_study(storage=storage, sampler=optuna.samplers.TPESampler(seed=1))
        study.optimize(objective, n_trials=n)
        wall = time.perf_counter() - started
        return Measured(wall, trial_seconds(study), meter.done())
    from jupyter_mlplat.tuning import TuningSpec, start

    parallel, workers = PLATFORM[mode]
    spec = TuningSpec(trials=n, parallel=parallel, workers=workers,  # type: ignore[arg-type]
                      study_name=f"bench-{mode}-{tag}", new=True)  # fmt: skip
    run = start(objective, spec, config=config, spark=spark)
    result = run.wait()
    wall = time.perf_counter() - started
    spent = meter.done()
    assert result.progress.complete == n, result.progress
    return Measured(wall, trial_seconds(run.study), spent,
                    phases(run.study, meter.wall, meter.wall + spent["wall"]))  # fmt: skip


def ratios(got: dict[str, Measured], cores: int) -> dict[str, float]:
    """The figures of one round: speed-ups, the machine's ceiling, each parallel mode's
    CPU-bound best, and the tracking overhead (whole study and median trial)."""
    sequential = got["one"].wall
    figures = {
        "local": sequential / got["local"].wall,
        "spark": sequential / got["spark"].wall,
        "local ÷ bare": got["bare"].wall / got["local"].wall,
        "ceiling": got["ceiling"].cpu["one wall"] / got["ceiling"].wall,
    }
    for mode in ("local", "spark"):
        busy_cpu = sum(v for k, v in got[mode].cpu.items() if k != "wall")
        figures[f"best {mode}"] = sequential / (busy_cpu / cores)
    for mode in ("one", "none"):
        figures[f"{mode} ÷ bare"] = got[mode].wall / got["bare"].wall
        figures[f"{mode} ÷ bare trial"] = got[mode].trial / got["bare"].trial
        figures[f"{mode} ÷ journal"] = got[mode].wall / got["journal"].wall
        figures[f"{mode} ÷ journal trial"] = got[mode].trial / got["journal"].trial
    return figures


def print_round(index: int, order: list[str], got: dict[str, Measured],
                figures: dict[str, float]) -> None:  # fmt: skip
    """One round's walls, ratios and (per platform mode) phases and CPU."""
    walls = ", ".join(f"{SHORT.get(m, m)} {got[m].wall:.1f}" for m in order if m != "ceiling")
    print(f"round {index + 1} ({' → '.join(SHORT.get(m, m) for m in order)}), load "
          f"{os.getloadavg()[0]:.1f}: {walls} s; local {figures['local']:.2f}x, Spark "
          f"{figures['spark']:.2f}x, machine's ceiling {figures['ceiling']:.2f}x; tracking per "
          f"trial {figures['one ÷ journal trial']:.3f} sequential, "
          f"{figures['none ÷ journal trial']:.3f} in-thread")  # fmt: skip
    for mode, label in SHORT.items():
        cpu = ", ".join(f"{k} {v:.1f}" for k, v in got[mode].cpu.items() if k != "wall")
        print(f"  {label:<10} {got[mode].phases}, median trial {got[mode].trial:.3f} s; "
              f"CPU s: {cpu}")  # fmt: skip
    c = got["ceiling"].cpu
    print(f"  ceiling    the loop alone: one process {c['one wall']:.1f} s ({c['one']:.1f} CPU "
          f"s), all cores at once {got['ceiling'].wall:.1f} s ({c['all']:.1f} CPU s)")  # fmt: skip


def main() -> None:
    args = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    args.add_argument("--trials", type=int, default=32)
    args.add_argument("--seconds", type=float, default=2.0, help="objective's CPU time")
    args.add_argument("--rounds", type=int, default=3, help="interleaved rounds (medians)")
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
        # warm the session and its Python workers (a Python UDF: a plain query starts none)
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
        # a kernel's first study of each mode (not measured): imports MLflow and Optuna here,
        # warms the MLflow server, starts the trial worker server (local) and has the Spark
        # workers import the trial worker (spark), which would otherwise count against
        # whichever round runs that mode first; their start to first trial is the cold case
        cold = {}
        for parallel in ("local", "spark"):
            began = time.time()
            warm = start(lambda trial: trial.suggest_float("x", 0, 1),
                         TuningSpec(trials=1, parallel=parallel, workers=1,  # type: ignore[arg-type]
                                    study_name=f"bench-warm-up-{parallel}", new=True),
                         config=config, spark=spark)  # fmt: skip
            warm.wait()
            first = warm.study.get_trials(deepcopy=False)[0].datetime_start.timestamp()
            cold[parallel] = first - began
        calibrate(options.seconds)
        n, cores = options.trials, os.cpu_count() or 1
        print(f"{n} trials of a {options.seconds} CPU s busy loop; {cores} cores; "
              f"{options.rounds} interleaved rounds; load {os.getloadavg()[0]:.1f}")  # fmt: skip
        print("a kernel's first study (cold): start→first trial "
              + ", ".join(f"{k} {v:.2f} s" for k, v in cold.items()))  # fmt: skip

        rounds = []
        for index in range(options.rounds):
            shift = index * len(ORDER) // options.rounds
            order = ORDER[shift:] + ORDER[:shift]
            got = {mode: measure(mode, n, str(index), folder, config, spark) for mode in order}
            figures = ratios(got, cores)
            print_round(index, order, got, figures)
            rounds.append(figures)

        def median(key: str) -> str:
            values = [r[key] for r in rounds]
            each = ", ".join(f"{v:.2f}" for v in values)
            return f"{statistics.median(values):.3f}" + (f" ({each})" if len(values) > 1 else "")

        print(f"medians over {len(rounds)} rounds (each round's own figure in brackets):")
        print(f"speed-up local ÷ sequential:  {median('local')} (goal >= 1.8)")
        print(f"speed-up Spark ÷ sequential:  {median('spark')} (goal >= 1.8)")
        print(f"speed-up local ÷ bare Optuna: {median('local ÷ bare')}")
        print(f"the machine's ceiling for this objective (its loop alone, {n} times, one "
              f"process ÷ {cores} at once, no Optuna or MLflow): {median('ceiling')}")  # fmt: skip
        for mode in ("local", "spark"):
            print(
                f"CPU bound, {SHORT[mode]}: all its CPU (tracking included) spread evenly over "
                f"{cores} cores, against the sequential wall: best {median('best ' + mode)}"
            )
        for mode in ("one", "none"):
            print(
                f"overhead ÷ bare in memory, {SHORT[mode]}: whole study "
                f"{median(mode + ' ÷ bare')}, per trial {median(mode + ' ÷ bare trial')}"
            )
            print(f"MLflow tracking overhead (÷ bare on the same journal storage), {SHORT[mode]}: "
                  f"whole study {median(mode + ' ÷ journal')}, per trial "
                  f"{median(mode + ' ÷ journal trial')} (goal <= 1.10)")  # fmt: skip
        print(f"load at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
