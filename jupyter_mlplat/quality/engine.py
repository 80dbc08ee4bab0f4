"""Run expectation specs on a pandas, classic Spark or Spark Connect DataFrame with GX 1.x.

One ephemeral GX context per process, and one data source + batch definition per engine, are
built on first use and reused: a later check costs what GX's own validation costs. As with
GX's defaults, a Spark frame is persisted for the metrics and stays cached afterwards.
"""

from __future__ import annotations

import contextlib
import datetime
import functools
import math
import sys
import threading
import time
from typing import Any

from jupyter_mlplat.errors import InvalidInput
from jupyter_mlplat.quality.result import CheckResult, ExpectationOutcome
from jupyter_mlplat.quality.spec import ExpectationSpec, supported

#: Enough detail for counts and observed values; example rows are computed here, only for
#: failures, so GX's costlier SUMMARY/COMPLETE formats are not needed.
RESULT_FORMAT = "BASIC"


def frame_kind(frame: Any) -> str | None:
    """``pandas``, ``spark`` (classic), ``spark-connect`` — or None for anything else."""
    pandas = sys.modules.get("pandas")
    if pandas is not None and isinstance(frame, pandas.DataFrame):
        return "pandas"
    if "pyspark.sql" not in sys.modules:
        return None
    module = type(frame).__module__
    from pyspark.sql import DataFrame

    if isinstance(frame, DataFrame):
        return "spark-connect" if module.startswith("pyspark.sql.connect") else "spark"
    return None


def frame_columns(frame: Any) -> list[str]:
    return [str(c) for c in frame.columns]


def check_columns(specs: list[ExpectationSpec], columns: list[str]) -> None:
    """Refuse expectations on columns the frame does not have, before GX runs."""
    known = set(columns)
    for spec in specs:
        if spec.column is not None and spec.column not in known:
            shown = ", ".join(columns[:50]) + (", ..." if len(columns) > 50 else "")
            raise InvalidInput(
                f"unknown column {spec.column!r} in '{spec.to_line()}'; "
                f"the frame's columns: {shown}"
            )


class _GX:
    """The process's GX context and, per engine, a reusable batch definition."""

    def __init__(self) -> None:
        import great_expectations as gx
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        self.gx = gx
        self.context = gx.get_context(
            mode="ephemeral",
            project_config=DataContextConfig(
                store_backend_defaults=InMemoryStoreBackendDefaults(),
                analytics_enabled=False,
                progress_bars=ProgressBarsConfig(globally=False),  # no tqdm noise in cells
            ),
        )
        self.batches: dict[str, Any] = {}
        self.datasources: dict[str, Any] = {}
        self.lock = threading.Lock()

    def batch_definition(self, kind: str, frame: Any) -> Any:
        if kind not in self.batches:
            sources = self.context.data_sources
            source = (
                sources.add_pandas(f"mlplat-{kind}")
                if kind == "pandas"
                else sources.add_spark(f"mlplat-{kind}")
            )
            asset = source.add_dataframe_asset("frame")
            self.datasources[kind] = source
            self.batches[kind] = asset.add_batch_definition_whole_dataframe("whole")
        if kind != "pandas":
            # GX would otherwise look a session up itself (a Connect one when SPARK_REMOTE is
            # set): give it the frame's own, and rebuild its engine when that session changes
            source = self.datasources[kind]
            session = frame.sparkSession
            if source._spark is not session:
                source._spark = session
                source._execution_engine = None
        return self.batches[kind]

    def expectation(self, spec: ExpectationSpec, index: int) -> Any:
        cls = getattr(self.gx.expectations, spec.gx_type, None)
        if not isinstance(cls, type) or not issubclass(cls, self.gx.expectations.Expectation):
            raise InvalidInput(f"unknown expectation {spec.gx_type!r}. Supported: {supported()}")
        try:
            return cls(**spec.arguments, meta={"mlplat_index": index})
        except Exception as err:  # pydantic validation: wrong argument names or types
            first = str(err).strip().splitlines()
            detail = " ".join(line.strip() for line in first[:3])
            raise InvalidInput(f"bad arguments for '{spec.to_line()}': {detail}") from None


_engine: _GX | None = None
_engine_lock = threading.Lock()


def gx_engine() -> _GX:
    """The GX context of this process (importing great_expectations on first use)."""
    global _engine
    with _engine_lock:  # the kernel's warm-up thread may be building it right now
        if _engine is None:
            _engine = _GX()
        return _engine


def build_suite(specs: tuple[ExpectationSpec, ...]) -> Any:
    """A GX ``ExpectationSuite`` for ``specs`` (cached: a re-run builds nothing)."""
    return _build_suite(specs)


@functools.lru_cache(maxsize=64)
def _build_suite(specs: tuple[ExpectationSpec, ...]) -> Any:
    engine = gx_engine()
    suite = engine.gx.ExpectationSuite(name="mlplat-check")
    for index, spec in enumerate(specs):
        suite.add_expectation(engine.expectation(spec, index))
    return suite


def run_check(
    frame: Any,
    specs: list[ExpectationSpec],
    *,
    name: str,
    dataset: str,
    suite: str = "",
    failing_examples: int = 5,
) -> CheckResult:
    """Validate ``frame`` against ``specs`` and describe every expectation's outcome."""
    kind = frame_kind(frame)
    if kind is None:
        raise InvalidInput(
            f"{dataset} is a {type(frame).__module__}.{type(frame).__name__}, not a pandas, "
            "Spark or Spark Connect DataFrame"
        )
    if not specs:
        raise InvalidInput(f"no expectations to check. Supported: {supported()}")
    check_columns(specs, frame_columns(frame))
    started = time.perf_counter()
    gx_suite = _build_suite(tuple(specs))
    engine = gx_engine()
    with engine.lock:
        batch = engine.batch_definition(kind, frame).get_batch(
            batch_parameters={"dataframe": frame}
        )
        validation = batch.validate(gx_suite, result_format=RESULT_FORMAT)
        outcomes = _outcomes(specs, validation)
        for spec, outcome in zip(specs, outcomes, strict=True):
            if not outcome.success and spec.column and failing_examples > 0 and not outcome.error:
                outcome.examples = failing_rows(frame, kind, spec, failing_examples)
    failed = sum(1 for o in outcomes if not o.success)
    return CheckResult(
        name=name,
        dataset=dataset,
        suite=suite,
        engine=kind,
        success=failed == 0,
        evaluated=len(outcomes),
        failed=failed,
        expectations=outcomes,
        seconds=time.perf_counter() - started,
        created=datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds"),
    )


def _outcomes(specs: list[ExpectationSpec], validation: Any) -> list[ExpectationOutcome]:
    by_index: dict[int, Any] = {}
    for result in validation.results:
        by_index[int(result.expectation_config.meta["mlplat_index"])] = result
    outcomes = []
    for index, spec in enumerate(specs):
        result = by_index[index]
        details = result.result or {}
        error = _error(result.exception_info or {})
        outcomes.append(
            ExpectationOutcome(
                expectation=spec.to_line(),
                gx_type=spec.gx_type,
                column=spec.column,
                success=bool(result.success) and not error,
                observed=_observed(details),
                unexpected_count=details.get("unexpected_count"),
                unexpected_percent=_number(details.get("unexpected_percent")),
                error=error[:300],
            )
        )
    return outcomes


def _error(info: dict[str, Any]) -> str:
    """The first exception message GX recorded (per expectation, or per metric)."""
    entries = [info] if "raised_exception" in info else list(info.values())
    for entry in entries:
        if isinstance(entry, dict) and entry.get("raised_exception"):
            message = str(entry.get("exception_message") or "GX raised an error")
            return message.strip().splitlines()[0]
    return ""


def _observed(details: dict[str, Any]) -> str:
    if "observed_value" in details:
        return _short(details["observed_value"])
    if "unexpected_count" in details:
        count, total = details["unexpected_count"], details.get("element_count")
        if not count:
            return f"all {total} rows pass" if total is not None else "all rows pass"
        percent = details.get("unexpected_percent")
        share = f" ({percent:.3g}%)" if isinstance(percent, int | float) else ""
        sample = details.get("partial_unexpected_list") or []
        values = ", ".join(_short(v) for v in sample[:5])
        return f"{count} of {total} rows fail{share}" + (f"; e.g. {values}" if values else "")
    return ""


def _short(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.6g}"
    text = str(value)
    return text if len(text) <= 120 else text[:117] + "..."


def _number(value: Any) -> float | None:
    return float(value) if isinstance(value, int | float) and math.isfinite(value) else None


# -- failing example rows ----------------------------------------------------------------------
def failing_rows(frame: Any, kind: str, spec: ExpectationSpec, limit: int) -> list[dict[str, Any]]:
    """Up to ``limit`` rows that break ``spec`` (empty when it has no row-level meaning)."""
    try:
        if kind == "pandas":
            return _pandas_rows(frame, spec, limit)
        return _spark_rows(frame, spec, limit)
    except Exception:  # examples are a courtesy: an odd column type must not fail the check
        return []


def _pandas_rows(frame: Any, spec: ExpectationSpec, limit: int) -> list[dict[str, Any]]:
    column, args, kind = frame[spec.column], spec.arguments, spec.gx_type
    present = column.notna()

    def text() -> Any:  # a string copy of a million rows is costly: only when asked for
        return column.astype(str)

    masks = {
        "ExpectColumnValuesToNotBeNull": lambda: ~present,
        "ExpectColumnValuesToBeNull": lambda: present,
        "ExpectColumnValuesToBeUnique": lambda: column.duplicated(keep=False) & present,
        "ExpectColumnValuesToBeBetween": lambda: present & ~column.between(_low(args), _high(args)),
        "ExpectColumnValuesToBeInSet": lambda: present & ~column.isin(args["value_set"]),
        "ExpectColumnValuesToNotBeInSet": lambda: column.isin(args["value_set"]),
        "ExpectColumnValuesToMatchRegex": lambda: present & ~text().str.contains(args["regex"]),
        "ExpectColumnValueLengthsToBeBetween": lambda: (
            present & ~text().str.len().between(_low(args), _high(args))
        ),
        "ExpectColumnValueLengthsToEqual": lambda: present & (text().str.len() != args["value"]),
    }
    if kind not in masks:
        return []
    rows = frame[masks[kind]()].head(limit)
    return [
        {"(row)": _plain(index), **{str(k): _plain(v) for k, v in row.items()}}
        for index, row in zip(rows.index, rows.to_dict("records"), strict=True)
    ]


def _spark_rows(frame: Any, spec: ExpectationSpec, limit: int) -> list[dict[str, Any]]:
    from pyspark.sql import functions as F

    column, args, kind = frame[spec.column], spec.arguments, spec.gx_type
    text = column.cast("string")
    if kind == "ExpectColumnValuesToBeUnique":
        repeated = frame.groupBy(column).count().filter("count > 1").drop("count")
        failing = frame.join(repeated, on=spec.column, how="left_semi")
    else:
        conditions = {
            "ExpectColumnValuesToNotBeNull": column.isNull,
            "ExpectColumnValuesToBeNull": column.isNotNull,
            "ExpectColumnValuesToBeBetween": lambda: (
                column.isNotNull() & ~column.between(_low(args), _high(args))
            ),
            "ExpectColumnValuesToBeInSet": lambda: (
                column.isNotNull() & ~column.isin(list(args["value_set"]))
            ),
            "ExpectColumnValuesToNotBeInSet": lambda: column.isin(list(args["value_set"])),
            "ExpectColumnValuesToMatchRegex": lambda: (
                column.isNotNull() & ~text.rlike(args["regex"])
            ),
            "ExpectColumnValueLengthsToBeBetween": lambda: (
                column.isNotNull() & ~F.length(text).between(_low(args), _high(args))
            ),
            "ExpectColumnValueLengthsToEqual": lambda: (
                column.isNotNull() & (F.length(text) != args["value"])
            ),
        }
        if kind not in conditions:
            return []
        failing = frame.filter(conditions[kind]())
    return [
        {str(k): _plain(v) for k, v in row.asDict().items()}
        for row in failing.limit(limit).collect()
    ]


def _low(args: dict[str, Any]) -> Any:
    low = args.get("min_value")
    return -math.inf if low is None else low


def _high(args: dict[str, Any]) -> Any:
    high = args.get("max_value")
    return math.inf if high is None else high


def _plain(value: Any) -> Any:
    """A JSON-friendly value (numpy scalars, timestamps, NaN)."""
    if hasattr(value, "item") and not isinstance(value, list | tuple | dict):
        with contextlib.suppress(ValueError, TypeError):
            value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None if math.isnan(value) else str(value)
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
