"""``%mlp predict MODEL --table DB.IN --output DB.OUT``: score a catalog table on Spark."""

from __future__ import annotations

from html import escape
from typing import Any

from IPython.core.error import UsageError

from jupyter_mlplat.errors import MLPlatError
from jupyter_mlplat.kernel.commands import ArgumentParser
from jupyter_mlplat.kernel.render import Report


def parser() -> ArgumentParser:
    parse = ArgumentParser("predict", description="Score a catalog table with a registered model.")
    parse.add_argument("model", help="models:/<name>@<alias> or models:/<name>/<version>")
    parse.add_argument("--table", required=True, help="input table, <database>.<table>")
    parse.add_argument("--output", required=True, help="new table to write, <database>.<table>")
    parse.add_argument("--mode", choices=["error", "overwrite"], default="error",
                       help="what to do when the output exists (default: error)")  # fmt: skip
    parse.add_argument("--column", default="prediction", help="name of the prediction column")
    return parse


def run(magics: Any, args: list[str], cell: str | None) -> Report:
    """Score the table, showing the step and Spark's own progress bar while it runs."""
    options = parser().parse_args(args)
    config = magics.mlplat
    if not magics.spark.provides_session:
        raise UsageError(
            f"%mlp predict needs a Spark Connect session (spark_mode is {config.spark_mode!r})"
        )
    from IPython.display import HTML, display

    from jupyter_mlplat.deploy.batch import predict_table

    step = display(HTML(_step("starting", 0.0)), display_id=True)

    def progress(text: str, fraction: float) -> None:
        if step is not None:
            step.update(HTML(_step(text, fraction)))

    try:
        session = magics.spark.session or magics.spark.attach()
        result = predict_table(
            options.model,
            options.table,
            options.output,
            spark=session,
            mode=options.mode,
            prediction_column=options.column,
            progress=progress,
            config=config,
        )
    except MLPlatError as err:
        progress(f"failed: {err}", 1.0)
        raise
    report = Report("Batch prediction")
    report.add("Result", "output table", result.output, "ok")
    report.add("Result", "rows", f"{result.rows:,}")
    report.add("Result", "seconds", f"{result.seconds:.1f}")
    report.add("Result", "rows/s", f"{result.rows_per_second:,.0f}")
    report.add("Model", "version", result.model)
    report.add("Model", "input table", f"{options.table} ({result.input_rows:,} rows)")
    return report


def _step(text: str, fraction: float) -> str:
    return (
        '<div class="mlplat-predict-step" style="font-size:12px">'
        f"predict: {escape(text)} ({fraction * 100:.0f} %)</div>"
    )
