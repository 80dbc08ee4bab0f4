"""Round trip of a large artifact through the platform's MLflow artifact proxy.

Starts the MLflow server with the platform's own command line (``LocalPlatform.mlflow_service()``)
in a temporary state directory. A client process with a platform kernel's environment logs a file
of random bytes with ``mlflow.log_artifact`` and downloads it with
``mlflow.artifacts.download_artifacts``; size and sha256 must round-trip. Prints upload and
download MB/s (1 MB = 10**6 bytes), each divided by a ``shutil.copyfile`` of the same bytes in the
same run, and the peak RSS growth of the server's process tree (psutil, every 0.1 s) over its idle
RSS. Goal: 2 GiB round-trips with <= 256 MB server growth. Timings are reported, never asserted.
Every timed phase starts after ``os.sync()``, so none pays for the previous one's dirty pages.

    .venv/bin/python benchmarks/large_artifact.py [--size 2GiB] [--dir /tmp]
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import psutil

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.infra.processes import Service
from jupyter_mlplat.platform.local import LocalPlatform
from jupyter_mlplat.server.provisioner import kernel_environment

MB = 10**6
CHUNK = 8 * 1024 * 1024
PREFIX = "BENCH "
UNITS = {"": 1, "b": 1, "kb": 10**3, "mb": 10**6, "gb": 10**9}
UNITS |= {"kib": 2**10, "mib": 2**20, "gib": 2**30}


def parse_size(text: str) -> int:
    """``2GiB``, ``512MiB``, ``800MB`` or a byte count."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*", text)
    if not match or match.group(2).lower() not in UNITS:
        raise argparse.ArgumentTypeError(f"not a size: {text!r}")
    return int(float(match.group(1)) * UNITS[match.group(2).lower()])


def sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        while chunk := f.read(CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def write_random(path: Path, size: int) -> str:
    """Write ``size`` random bytes in chunks; return their sha256."""
    digest = hashlib.sha256()
    with path.open("wb") as f:
        remaining = size
        while remaining:
            chunk = os.urandom(min(CHUNK, remaining))
            digest.update(chunk)
            f.write(chunk)
            remaining -= len(chunk)
    return digest.hexdigest()


# -- client (a separate process with a platform kernel's environment) ----------------------------
def emit(event: str, **data: Any) -> None:
    print(PREFIX + json.dumps({"event": event, **data}), flush=True)


def client(source: Path, download_dir: Path) -> int:
    """Warm up, wait for ``go`` on stdin, then upload and download ``source`` once, timed."""
    import resource

    import mlflow
    import mlflow.artifacts

    warmup = download_dir / "warmup.txt"
    warmup.write_text("warm-up")
    with mlflow.start_run() as run:
        mlflow.log_artifact(str(warmup), "warmup")
        mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id, artifact_path="warmup/warmup.txt", dst_path=str(download_dir)
        )
        emit("ready", run_id=run.info.run_id, artifact_uri=run.info.artifact_uri)
        if sys.stdin.readline().strip() != "go":
            return 1
        os.sync()
        emit("upload")
        start = time.perf_counter()
        mlflow.log_artifact(str(source), "large")
        upload = time.perf_counter() - start
        os.sync()
        emit("download", upload_s=upload)
        start = time.perf_counter()
        local = mlflow.artifacts.download_artifacts(
            run_id=run.info.run_id,
            artifact_path=f"large/{source.name}",
            dst_path=str(download_dir),
        )
        download = time.perf_counter() - start
        peak_kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        emit("done", download_s=download, path=local, client_peak_rss=peak_kib * 1024)
    return 0


# -- server memory ------------------------------------------------------------------------------
class RssSampler(threading.Thread):
    """Samples the RSS summed over a process tree every ``interval`` s, per named phase."""

    def __init__(self, pid: int, interval: float = 0.1) -> None:
        super().__init__(daemon=True)
        self.root = psutil.Process(pid)
        self.interval = interval
        self.phase = "start"
        self.samples: dict[str, list[int]] = {}
        self.stopping = threading.Event()

    def tree_rss(self) -> int:
        total = 0
        for proc in [self.root, *self.root.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += proc.memory_info().rss
        return total

    def run(self) -> None:
        while not self.stopping.wait(self.interval):
            try:
                rss = self.tree_rss()
            except psutil.NoSuchProcess:
                return
            self.samples.setdefault(self.phase, []).append(rss)

    def peak(self, phase: str) -> int:
        return max(self.samples.get(phase) or [0])


# -- driver -------------------------------------------------------------------------------------
def read_event(proc: subprocess.Popen[str], want: str) -> dict[str, Any]:
    """The next protocol line from the client, which must be ``want``."""
    assert proc.stdout is not None
    for line in proc.stdout:
        if line.startswith(PREFIX):
            event = dict(json.loads(line[len(PREFIX) :]))
            if event["event"] != want:
                raise RuntimeError(f"client sent {event['event']!r}, expected {want!r}")
            return event
    raise RuntimeError(f"client exited with {proc.wait()} before {want!r}")


def start_client(
    platform: LocalPlatform, source: Path, download_dir: Path, notebook: Path
) -> subprocess.Popen[str]:
    """The client process, with exactly the environment the provisioner gives a kernel."""
    config = MLPlat(
        env={"MLP_TRACKING_URI": platform.tracking_uri, "MLP_STATE_DIR": str(platform.layout.root)}
    )
    env = kernel_environment(config, dict(os.environ) | {"JPY_SESSION_NAME": str(notebook)})
    command = [sys.executable, __file__, "--client", str(source), str(download_dir)]
    return subprocess.Popen(
        command, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    )


def benchmark(size: int, workdir: Path, idle_seconds: float) -> int:
    source = workdir / "blob.bin"
    downloads = workdir / "downloads"
    downloads.mkdir()
    started = time.perf_counter()
    digest = write_random(source, size)
    print(f"wrote {size / MB:.0f} MB of random bytes in {time.perf_counter() - started:.1f} s")

    copy = workdir / "copy.bin"
    os.sync()
    started = time.perf_counter()
    shutil.copyfile(source, copy)
    copy_s = time.perf_counter() - started
    copy.unlink()
    print(f"shutil.copyfile baseline: {copy_s:.2f} s, {size / MB / copy_s:.0f} MB/s")

    os.environ["MLP_STATE_DIR"] = str(workdir / "state")
    platform = LocalPlatform(MLPlat(), notebook_dir=workdir)
    service: Service = platform.mlflow_service()
    proc: subprocess.Popen[str] | None = None
    sampler: RssSampler | None = None
    try:
        service.start()
        assert service.process is not None
        print(f"mlflow ready in {service.wait_ready(180):.1f} s at {platform.tracking_uri}")
        print("  command:", " ".join(service.command[1:]))
        sampler = RssSampler(service.process.pid)
        sampler.start()
        proc = start_client(platform, source, downloads, workdir / "bench.ipynb")
        ready = read_event(proc, "ready")
        sampler.phase = "idle"
        time.sleep(idle_seconds)
        idle = int(statistics.median(sampler.samples["idle"]))
        assert proc.stdin is not None
        proc.stdin.write("go\n")
        proc.stdin.flush()
        read_event(proc, "upload")
        sampler.phase = "upload"
        upload_s = read_event(proc, "download")["upload_s"]
        sampler.phase = "download"
        done = read_event(proc, "done")
        sampler.phase = "after"
        if proc.wait(120) != 0:
            raise RuntimeError(f"client exited with {proc.returncode}")
    except BaseException:
        print(f"mlflow log (tail):\n{service.log_tail()}", file=sys.stderr)
        raise
    finally:
        if sampler is not None:
            sampler.stopping.set()
        if proc is not None and proc.poll() is None:
            proc.kill()
            proc.wait()
        service.stop()

    downloaded = Path(done["path"])
    got_size, got_digest = downloaded.stat().st_size, sha256(downloaded)
    ok = got_size == size and got_digest == digest
    up_peak = sampler.peak("upload") - idle
    down_peak = sampler.peak("download") - idle
    print(f"\nartifact round trip, {size} bytes ({size / 2**30:.2f} GiB), run {ready['run_id']}")
    print(f"  verified: size {got_size} {'==' if got_size == size else '!='} {size}, sha256 ")
    print(f"            {got_digest} {'==' if got_digest == digest else '!='} {digest}")
    for name, seconds in [
        ("copyfile", copy_s),
        ("upload", upload_s),
        ("download", done["download_s"]),
    ]:
        rate = size / MB / seconds
        print(f"  {name:9} {seconds:7.2f} s {rate:7.0f} MB/s  = {copy_s / seconds:.3f} x copyfile")
    print(f"  server RSS (process tree): idle {idle / MB:.0f} MB")
    for phase, growth in [("upload", up_peak), ("download", down_peak)]:
        count = len(sampler.samples.get(phase, []))
        print(f"    peak growth during {phase:8} {growth / MB:+7.1f} MB ({count} samples)")
    print(f"    peak growth, whole transfer {max(up_peak, down_peak) / MB:+7.1f} MB (goal <= 256)")
    print(f"  client peak RSS {done['client_peak_rss'] / MB:.0f} MB")
    print(f"  round trip {'OK' if ok else 'CORRUPTED'}")
    return 0 if ok else 1


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--size", type=parse_size, default=2 * 2**30, help="default 2GiB")
    parser.add_argument("--dir", default=tempfile.gettempdir(), help="where the files go")
    parser.add_argument("--idle-seconds", type=float, default=3.0)
    parser.add_argument("--client", nargs=2, metavar=("SOURCE", "DIR"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.client:
        return client(Path(args.client[0]), Path(args.client[1]))

    # source + server's copy + download (+ the temporary baseline copy, deleted before upload)
    free = shutil.disk_usage(args.dir).free
    if free < 3 * args.size + 2**30:
        print(f"not enough space in {args.dir}: {free / 2**30:.1f} GiB free", file=sys.stderr)
        return 2
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))  # run the finally blocks
    workdir = Path(tempfile.mkdtemp(prefix="mlplat-bench-artifact-", dir=args.dir))
    try:
        return benchmark(args.size, workdir, args.idle_seconds)
    finally:
        shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    sys.exit(main())
