"""The live view of a tuning study in its cell (``%%mlp tune``).

While the study runs: trials done / running / pruned / failed of the total, the best value and
parameters, a link to the study's parent run in the lab's MLflow UI, a Stop button and the
optimization history (each trial's value and the best so far), redrawn when trials finish. At the
end: parallel coordinates, parameter importances and a summary. A thread polls the run about once
a second (widgets may be updated from threads; the kernel stays idle, so a click on Stop reaches
it). Frontends without widgets (nbconvert, consoles) get the same facts as text.

The plots are drawn on plain matplotlib ``Figure`` objects, never through pyplot: pyplot's global
state (current figure, style, the inline backend's figures shown at the end of every cell) is the
user's, and this thread draws while the user's cells run. Optuna's own matplotlib plots change the
global style and draw on pyplot's current axes, hence these small ones.
"""

from __future__ import annotations

import io
import math
import threading
import time
from collections.abc import Sequence
from html import escape
from typing import Any

import ipywidgets as widgets
from IPython.display import display

from jupyter_mlplat.tracking.ui import model_version_ui_path, run_ui_path

#: How often the view asks the run for its progress.
POLL_SECONDS = 1.0
#: Pixels per inch of the plots: a 6.4-inch figure is a 640-pixel image.
DPI = 100
#: States of a trial that is over (Optuna's names).
FINAL_STATES = frozenset({"COMPLETE", "PRUNED", "FAIL"})
_BLUE, _GREY, _RED, _GREEN = "#0969da", "#8c959f", "#cf222e", "#1a7f37"


# -- facts as text ------------------------------------------------------------------------------
def state_name(state: Any) -> str:
    """``TrialState.COMPLETE``, ``"complete"`` or ``"COMPLETE"`` -> ``"COMPLETE"``."""
    return str(getattr(state, "name", state)).upper()


def done_count(progress: Any) -> int:
    return int(progress.complete + progress.pruned + progress.failed)


def status(progress: Any, stopping: bool = False) -> str:
    """``running``, ``stopping…``, ``stopped``, ``failed`` or ``finished``."""
    if progress.finished:
        if progress.error:
            return "failed"
        return "stopped" if progress.stopped else "finished"
    return "stopping…" if stopping or progress.stopped else "running"


def counts_line(progress: Any) -> str:
    """``7/20 trials done · 2 running · 1 pruned · 0 failed``."""
    return (
        f"{done_count(progress)}/{progress.total} trials done · {progress.running} running · "
        f"{progress.pruned} pruned · {progress.failed} failed"
    )


def format_value(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    return repr(value) if isinstance(value, str) else str(value)


def params_text(params: dict[str, Any] | None) -> str:
    return ", ".join(f"{k}={format_value(v)}" for k, v in (params or {}).items())


def best_line(progress: Any, metric: str = "value") -> str:
    """``best value 0.953 (trial 5): depth=4, lr=0.01`` or ``no complete trial yet``."""
    if progress.best_value is None:
        return "no complete trial yet"
    params = params_text(progress.best_params)
    return f"best {metric} {format_value(progress.best_value)} (trial {progress.best_trial})" + (
        f": {params}" if params else ""
    )


def text_summary(
    progress: Any,
    *,
    metric: str = "value",
    link: str = "",
    seconds: float | None = None,
    result: Any = None,
    stopping: bool = False,
    register: str | None = None,
) -> str:
    """The view as plain text: what a frontend without widgets (or nbconvert) shows."""
    took = f" · {seconds:.0f} s" if seconds is not None else ""
    lines = [
        f"study {progress.study_name} · {status(progress, stopping)}{took}",
        f"  {counts_line(progress)}",
        f"  {best_line(progress, metric)}",
    ]
    if progress.error:
        lines.append(f"  error: {progress.error}")
    if link:
        lines.append(f"  parent run: {link}")
    version = getattr(result, "model_version", None)
    if version:
        lines.append(f"  registered: {registered(register, version)}")
    return "\n".join(lines)


def registered(name: str | None, version: Any) -> str:
    """``iris version 3`` (the engine gives the version number)."""
    return f"{name} version {version}" if name else str(version)


# -- plots --------------------------------------------------------------------------------------
def _figure(width: float, height: float) -> Any:
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=DPI, layout="constrained")


def image(png: bytes = b"", width: float = 6.4, hidden: bool = False) -> widgets.Image:
    """An image widget at its figure's own size (a flex box would stretch and blur it)."""
    layout = widgets.Layout(width=f"{width * DPI:.0f}px", flex="0 0 auto", height="auto")
    if hidden:
        layout.display = "none"
    return widgets.Image(value=png, format="png", layout=layout)


def _png(figure: Any) -> bytes:
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png")
    return buffer.getvalue()


def best_so_far(values: Sequence[float], direction: str) -> list[float]:
    """The running minimum (or maximum) of ``values``."""
    pick = max if direction == "maximize" else min
    best: list[float] = []
    for value in values:
        best.append(value if not best else pick(best[-1], value))
    return best


def history_png(
    history: Sequence[tuple[int, float | None, Any]], direction: str, metric: str = "value"
) -> bytes | None:
    """Each finished trial's value by trial number, pruned ones in grey, and the best so far."""
    complete = sorted(
        (n, v) for n, v, s in history if state_name(s) == "COMPLETE" and v is not None
    )
    pruned = [(n, v) for n, v, s in history if state_name(s) == "PRUNED" and v is not None]
    if not complete and not pruned:
        return None
    figure = _figure(6.4, 3.0)
    axes = figure.subplots()
    if pruned:
        axes.scatter(*zip(*pruned, strict=True), s=14, color=_GREY, marker="x", label="pruned")
    if complete:
        numbers, values = zip(*complete, strict=True)
        axes.scatter(numbers, values, s=16, color=_BLUE, label=metric)
        best = best_so_far(values, direction)
        axes.step(numbers, best, where="post", color=_RED, label="best so far")
    axes.set_xlabel("trial")
    axes.set_ylabel(metric)
    axes.set_title(f"optimization history ({direction})", fontsize=10)
    axes.legend(fontsize=8, loc="best")
    axes.grid(alpha=0.3)
    return _png(figure)


def _tick(value: Any) -> str:
    return f"{value:.4g}" if isinstance(value, float) else str(value)


def _axis(values: list[Any], distribution: Any) -> tuple[list[float], list[tuple[float, str]]]:
    """Positions in [0, 1] of one parameter's values (NaN where a trial lacks it) and the ticks."""
    nan = float("nan")
    present = [v for v in values if v is not None]
    choices = getattr(distribution, "choices", None)
    if choices is not None or any(isinstance(v, str) for v in present):
        order = list(choices) if choices is not None else sorted({str(v) for v in present})
        span = max(len(order) - 1, 1)
        index = {c: i / span for i, c in enumerate(order)}
        positions = [nan if v is None else index.get(v, index.get(str(v), nan)) for v in values]
        return positions, [(p, _tick(c)) for c, p in index.items()]
    log = bool(getattr(distribution, "log", False)) and all(float(v) > 0 for v in present)
    scale = [None if v is None else (math.log10(v) if log else float(v)) for v in values]
    known = [s for s in scale if s is not None]
    low, high = min(known), max(known)
    if high == low:
        return [nan if s is None else 0.5 for s in scale], [(0.5, _tick(present[0]))]
    positions = [nan if s is None else (s - low) / (high - low) for s in scale]
    return positions, [(0.0, _tick(min(present))), (1.0, _tick(max(present)))]


def parallel_png(trials: Sequence[Any], direction: str, metric: str = "value") -> bytes | None:
    """Parallel coordinates of the complete trials: the objective, then each parameter; the
    lines coloured by value (darker is better), the best one in red."""
    import matplotlib

    complete = [t for t in trials if state_name(t.state) == "COMPLETE" and t.value is not None]
    names = sorted({name for t in complete for name in t.params})
    if len(complete) < 2 or not names:
        return None
    values = [float(t.value) for t in complete]
    columns = [_axis(values, None)]
    for name in names:
        distribution = next(t.distributions[name] for t in complete if name in t.distributions)
        columns.append(_axis([t.params.get(name) for t in complete], distribution))
    figure = _figure(6.4, 3.2)
    axes = figure.subplots()
    colours = matplotlib.colormaps["Blues"]
    low, high = min(values), max(values)
    best = values.index(max(values) if direction == "maximize" else min(values))
    for i, value in enumerate(values):
        goodness = (value - low) / ((high - low) or 1.0)
        if direction != "maximize":
            goodness = 1.0 - goodness
        ys = [column[0][i] for column in columns]
        if i != best:
            axes.plot(range(len(columns)), ys, color=colours(0.25 + 0.7 * goodness), lw=1)
    ys = [column[0][best] for column in columns]
    axes.plot(range(len(columns)), ys, color=_RED, lw=2.2, label="best")
    for x, (_, ticks) in enumerate(columns):
        axes.axvline(x, color="#57606a", lw=0.8)
        for y, label in ticks:
            axes.text(x + 0.03, y, label, fontsize=7, va="center")
    axes.set_xticks(range(len(columns)), [metric, *names], fontsize=8)
    axes.set_yticks([])
    axes.set_xlim(-0.1, len(columns) - 0.6)
    axes.set_title("parallel coordinates (complete trials)", fontsize=10)
    for side in ("top", "right", "left"):
        axes.spines[side].set_visible(False)
    return _png(figure)


def importances(study: Any) -> dict[str, float] | str:
    """Optuna's parameter importances, or one line saying why there are none."""
    trials = [t for t in study.get_trials(deepcopy=False) if state_name(t.state) == "COMPLETE"]
    names = {name for t in trials for name in t.params}
    if len(trials) < 2 or not names:
        return (
            f"parameter importances need at least 2 complete trials with a parameter "
            f"({len(trials)} complete, {len(names)} parameters)"
        )
    import optuna

    try:
        return dict(optuna.importance.get_param_importances(study))
    except (ValueError, RuntimeError) as err:  # e.g. every trial used the same value
        return f"no parameter importances: {err}"


IMPORTANCE_WIDTH = 4.8


def importance_png(scores: dict[str, float]) -> bytes:
    """A horizontal bar per parameter, the most important on top."""
    ordered = sorted(scores.items(), key=lambda item: item[1])
    figure = _figure(IMPORTANCE_WIDTH, 0.6 + 0.32 * len(ordered))
    axes = figure.subplots()
    axes.barh([name for name, _ in ordered], [score for _, score in ordered], color=_BLUE)
    for y, (_, score) in enumerate(ordered):
        axes.text(score, y, f" {score:.2f}", va="center", fontsize=8)
    axes.set_xlim(0, max(max(scores.values()) * 1.2, 0.01))
    axes.set_xlabel("importance", fontsize=8)
    axes.set_title("parameter importances", fontsize=10)
    axes.tick_params(labelsize=8)
    return _png(figure)


def _warm_imports() -> None:
    """Import what the plots need (seconds when cold) while the study runs."""
    import matplotlib.figure  # noqa: F401
    import optuna.importance  # noqa: F401


# -- the view -----------------------------------------------------------------------------------
class TuningView:
    """Follows ``run`` (a ``tuning.TuningRun``) in a cell; ``display()`` shows it and starts the
    thread that polls the run. ``wait=True`` is the blocking cell (``--wait``): the kernel is
    busy, a click could not reach it, so the view says to interrupt the kernel instead."""

    def __init__(
        self,
        run: Any,
        *,
        direction: str = "minimize",
        metric: str = "value",
        base_path: str = "/",
        wait: bool = False,
        register: str | None = None,
        poll: float = POLL_SECONDS,
    ) -> None:
        self.run = run
        self.register = register
        self.direction = direction
        self.metric = metric
        self.base_path = base_path
        self.poll = poll
        self.blocking = wait  # then the cell's own thread finishes the view (its outputs)
        self.started = time.monotonic()
        self.seconds: float | None = None
        self.progress: Any = None
        self.result: Any = None
        self.stopping = False
        self.finished = False
        self._drawn = -1  # finished trials in the drawn history plot
        self._lock = threading.RLock()  # the poller, a click and --wait all update
        self._closed = threading.Event()
        self._thread: threading.Thread | None = None
        self._handle: Any = None
        self.title = widgets.HTML()
        self.bar = widgets.IntProgress(min=0, max=1, layout=widgets.Layout(width="320px"))
        self.counts = widgets.HTML()
        self.best = widgets.HTML()
        self.stop_button = widgets.Button(
            description="Stop", icon="stop", button_style="danger", tooltip="end the study"
        )
        self.stop_button.on_click(self._on_stop)
        self.state = widgets.HTML()
        self.history = image(hidden=True)
        self.final = widgets.VBox(layout=widgets.Layout(display="none"))
        controls = [self.stop_button] if not wait else []
        if wait:
            self.state.value = "interrupt the kernel (■) to stop"
        self.box = widgets.VBox(
            [
                self.title,
                widgets.HBox([self.bar, self.counts]),
                self.best,
                widgets.HBox([*controls, self.state]),
                self.history,
                self.final,
            ]
        )
        for widget, name in (
            (self.box, "mlplat-tune"),
            (self.title, "mlplat-tune-title"),
            (self.counts, "mlplat-tune-counts"),
            (self.best, "mlplat-tune-best"),
            (self.stop_button, "mlplat-tune-stop"),
            (self.state, "mlplat-tune-state"),
            (self.history, "mlplat-tune-history"),
            (self.final, "mlplat-tune-final"),
        ):
            widget.add_class(name)

    # -- what it shows ----------------------------------------------------------------------
    @property
    def link(self) -> str:
        """The parent run's page in the lab's MLflow UI (empty until the run is known)."""
        run_id = getattr(self.progress, "parent_run_id", None) or self.run.parent_run_id
        experiment = getattr(self.run, "experiment_id", None)
        if not run_id or not experiment:
            return ""
        return self.base_path + run_ui_path(str(experiment), str(run_id))

    def text(self) -> str:
        if self.progress is None:
            return f"study {self.run.study_name} · starting"
        seconds = self.seconds if self.seconds is not None else time.monotonic() - self.started
        return text_summary(
            self.progress,
            metric=self.metric,
            link=self.link,
            seconds=seconds,
            result=self.result,
            stopping=self.stopping,
            register=self.register,
        )

    def __repr__(self) -> str:
        return self.text()

    def _repr_mimebundle_(self, **kwargs: Any) -> dict[str, Any]:
        """The widget, with the text summary as ``text/plain`` for frontends without widgets."""
        bundle = dict(self.box._repr_mimebundle_(**kwargs))
        bundle["text/plain"] = self.text()
        return bundle

    def show(self, progress: Any) -> None:
        """Bring the widgets up to ``progress`` (the plot only when more trials finished)."""
        with self._lock:
            self._show(progress)

    def _show(self, progress: Any) -> None:
        self.progress = progress
        elapsed = time.monotonic() - self.started
        link = self.link
        anchor = (
            f' · <a href="{escape(link)}" target="_blank" rel="noopener" '
            'class="mlplat-tune-link">parent run in MLflow</a>'
            if link
            else ""
        )
        self.title.value = (
            f"<b>study {escape(str(progress.study_name))}</b> · "
            f"{escape(status(progress, self.stopping))} · {elapsed:.0f} s{anchor}"
        )
        self.bar.max = max(int(progress.total), 1)
        self.bar.value = min(done_count(progress), self.bar.max)
        self.counts.value = f"&nbsp;{escape(counts_line(progress))}"
        self.best.value = escape(best_line(progress, self.metric))
        if progress.error:
            self.state.value = f'<span style="color:{_RED}">{escape(str(progress.error))}</span>'
        finished = sum(1 for _, _, s in progress.history if state_name(s) in FINAL_STATES)
        if finished != self._drawn:
            png = history_png(progress.history, self.direction, self.metric)
            self._drawn = finished
            if png:
                self.history.value = png
                self.history.layout.display = None

    def _on_stop(self, _button: Any = None) -> None:
        self.stopping = True
        self.stop_button.disabled = True
        self.stop_button.description = "Stopping…"
        self.state.value = "stopping: running trials finish, no new ones start"
        self.run.stop()
        if self.progress is not None:
            self.show(self.progress)

    # -- following the run ------------------------------------------------------------------
    def display(self) -> None:
        """Show the view in the current cell and start following the run."""
        self.show(self.run.progress())
        self._handle = display(self, display_id=True)
        self._thread = threading.Thread(target=self._follow, name="mlplat-tune-view", daemon=True)
        self._thread.start()

    def refresh(self, finish: bool = True) -> bool:
        """Poll the run once; finish the view when the study is over. True once it is over."""
        progress = self.run.progress()
        self.show(progress)
        over = bool(progress.finished or self.run.done)
        if over and finish:
            self.finish()
        return over

    def _follow(self) -> None:
        warm = True
        while not self._closed.is_set():
            try:
                if self.refresh(finish=not self.blocking):
                    return
            except Exception as err:  # a poll that failed: say so, keep following
                self.state.value = f'<span style="color:{_RED}">{escape(str(err))}</span>'
            if warm:  # while trials run, not at the end: matplotlib, optuna.importance (sklearn)
                warm = False
                _warm_imports()
            self._closed.wait(self.poll)

    def wait(self) -> Any:
        """Block until the study is over (``--wait``); Ctrl-C / a kernel interrupt stops it
        cleanly first. Returns the ``TuningResult``; the run's error is raised."""
        try:
            while not self.run.done:
                time.sleep(0.2)
        except KeyboardInterrupt:
            self._on_stop()
            while not self.run.done:
                time.sleep(0.2)
        self._closed.set()
        if self._thread is not None:
            self._thread.join()
        self.refresh()
        return self.run.wait()

    def finish(self) -> None:
        """The end: final counts, parallel coordinates, importances, the summary; once."""
        with self._lock:
            if self.finished:
                return
            self.finished = True
            self.seconds = time.monotonic() - self.started
            try:
                self.result = self.run.wait()
            except Exception as err:  # the run's failure: shown here, raised by wait()
                self.state.value = f'<span style="color:{_RED}">{escape(str(err))}</span>'
            self.show(self.run.progress())
            self.stop_button.disabled = True
            if self.progress.stopped:
                self.stop_button.description = "Stopped"
            else:
                self.stop_button.layout.display = "none"
            if not self.progress.error:
                self.state.value = escape(status(self.progress))
            self.bar.bar_style = {"failed": "danger", "stopped": "warning"}.get(
                status(self.progress), "success"
            )
            self.final.children = self._final_parts()
            self.final.layout.display = None
        if self._handle is not None:  # the saved notebook keeps the final text, too
            self._handle.update(self)

    def _final_parts(self) -> tuple[Any, ...]:
        parts: list[Any] = []
        study = getattr(self.run, "study", None)
        if study is not None:
            png = parallel_png(study.get_trials(deepcopy=False), self.direction, self.metric)
            scores = importances(study)
            plots = []
            if png:
                plots.append(image(png))
                plots[-1].add_class("mlplat-tune-parallel")
            if isinstance(scores, dict):
                plots.append(image(importance_png(scores), IMPORTANCE_WIDTH))
            else:
                plots.append(widgets.HTML(f"<i>{escape(scores)}</i>"))
            plots[-1].add_class("mlplat-tune-importance")
            parts.append(
                widgets.HBox(
                    plots, layout=widgets.Layout(flex_flow="row wrap", align_items="flex-start")
                )
            )
        summary = widgets.HTML(self._summary_html())
        summary.add_class("mlplat-tune-summary")
        parts.append(summary)
        return tuple(parts)

    def _summary_html(self) -> str:
        progress, result = self.progress, self.result
        rows = [("state", status(progress)), ("trials", counts_line(progress))]
        if progress.best_value is not None:
            rows += [
                ("best trial", str(progress.best_trial)),
                (f"best {self.metric}", format_value(progress.best_value)),
                ("best params", params_text(progress.best_params)),
            ]
        body = "".join(
            f"<tr><td style='padding-right:12px'>{escape(k)}</td><td><code>{escape(v)}</code>"
            "</td></tr>"
            for k, v in rows
        )
        version = getattr(result, "model_version", None)
        if version:
            text = escape(registered(self.register, version))
            if self.register:
                href = escape(self.base_path + model_version_ui_path(self.register, str(version)))
                text = f'<a href="{href}" target="_blank" rel="noopener">{text}</a>'
            body += f"<tr><td>registered</td><td class='mlplat-tune-registered'>{text}</td></tr>"
        return f"<table style='border-collapse:collapse'>{body}</table>"
