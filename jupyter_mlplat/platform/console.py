"""What ``mlplat`` prints while people wait: each service as it becomes ready, with its time,
and one live line for a longer step (updated in place on a terminal, plain lines otherwise)."""

from __future__ import annotations

import sys
import threading
import time
from typing import TextIO


def _symbol(stream: TextIO, fancy: str, plain: str) -> str:
    try:
        fancy.encode(getattr(stream, "encoding", None) or "ascii")
    except (UnicodeEncodeError, LookupError):
        return plain
    return fancy


class Console:
    """Ready lines and a live step line on ``stream`` (stdout by default)."""

    #: seconds between redraws of the live line's clock (terminal only)
    tick = 0.5

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stdout
        self.live = self.stream.isatty()
        self.done_mark = _symbol(self.stream, "✓", "ok")
        self.step_mark = _symbol(self.stream, "…", "..")
        self._lock = threading.Lock()
        self._step = ""
        self._step_started = 0.0
        self._ticker: threading.Thread | None = None

    def ready(self, name: str, seconds: float, detail: str = "") -> None:
        """``  ✓ mlflow        ready in 9.8 s  http://127.0.0.1:5000``; ends any live step."""
        with self._lock:
            self._step = ""
            line = f"  {self.done_mark} {name:<13} ready in {seconds:4.1f} s  {detail}"
            self._write(line.rstrip(), final=True)

    def step(self, text: str) -> None:
        """Show ``text`` as the current step (with a running clock on a terminal)."""
        with self._lock:
            self._step, self._step_started = text, time.monotonic()
            self._write(self._step_line(), final=not self.live)
        if self.live and self._ticker is None:
            self._ticker = threading.Thread(
                target=self._run_clock, name="mlplat-clock", daemon=True
            )
            self._ticker.start()

    def finish(self) -> None:
        """End a live step line without a ready line (before other output, or on failure)."""
        with self._lock:
            if self._step and self.live:
                self.stream.write("\n")
                self.stream.flush()
            self._step = ""

    def _step_line(self) -> str:
        elapsed = time.monotonic() - self._step_started
        return f"  {self.step_mark} {self._step}" + (f"  {elapsed:.0f} s" if self.live else "")

    def _run_clock(self) -> None:
        while True:
            time.sleep(self.tick)
            with self._lock:
                if self._step:
                    self._write(self._step_line(), final=False)

    def _write(self, line: str, final: bool) -> None:
        if self.live:  # back to the start of the line, clear it, write
            self.stream.write("\r\x1b[K" + line + ("\n" if final else ""))
        else:
            self.stream.write(line + "\n")
        self.stream.flush()
