"""Data-quality checks with great_expectations 1.x, for notebooks and pipelines alike.

    from jupyter_mlplat import quality
    result = quality.validate(orders, suite="orders", raise_on_failure=True)

Works in a plain ``python script.py``: settings come from ``MLPlat`` (``MLP_*`` variables).
great_expectations is imported on the first validation, never at import of this package.
"""

from __future__ import annotations

import inspect
from typing import Any

from jupyter_mlplat.config import MLPlat
from jupyter_mlplat.errors import InvalidInput, MLPlatError
from jupyter_mlplat.quality.record import CheckRecord, flush
from jupyter_mlplat.quality.result import CheckResult, ExpectationOutcome
from jupyter_mlplat.quality.spec import ExpectationSpec, parse, validate_name

__all__ = [
    "CheckRecord",
    "CheckResult",
    "ExpectationOutcome",
    "QualityCheckFailed",
    "find_results",
    "flush",
    "save_suite",
    "validate",
]


class QualityCheckFailed(MLPlatError):
    """A check with ``raise_on_failure`` found failing expectations; ``result`` has them all."""

    status = 422

    def __init__(self, result: CheckResult) -> None:
        super().__init__(result.summary())
        self.result = result


def validate(
    df: Any,
    suite: str | None = None,
    expectations: str | list[ExpectationSpec] | None = None,
    *,
    name: str | None = None,
    raise_on_failure: bool = False,
    log: bool = True,
    dataset: str | None = None,
    config: MLPlat | None = None,
) -> CheckResult:
    """Validate a pandas / Spark / Spark Connect DataFrame against a saved suite and/or
    expectations in the short syntax (``"amount: between 0 10000"``).

    The check is named ``name``, else the suite, else the dataset; ``dataset`` defaults to the
    caller's variable name for ``df``. With ``log`` the result goes to the active MLflow run (or
    a short run of its own). ``raise_on_failure`` raises :class:`QualityCheckFailed`.
    """
    from jupyter_mlplat.quality import record, suites
    from jupyter_mlplat.quality.engine import run_check

    config = config or MLPlat()
    dataset = dataset or _variable_name(df) or "dataframe"
    specs = suites.load_suite(config, suite) if suite else []
    if isinstance(expectations, str):
        parsed = parse(expectations)
        specs += suites.expand(config, parsed)
    elif expectations:
        specs += list(expectations)
    if not specs:
        raise InvalidInput("give a suite name or expectations to validate against")
    check_name = validate_name(name or suite or dataset, "check name")
    result = run_check(
        df,
        specs,
        name=check_name,
        dataset=dataset,
        suite=suite or "",
        failing_examples=config.quality_failing_examples,
    )
    if log:
        record.submit(result, config)
    if raise_on_failure and not result.success:
        raise QualityCheckFailed(result)
    return result


def save_suite(name: str, expectations: str, config: MLPlat | None = None) -> str:
    """Save expectations (short syntax) as suite ``name``; return the file's path."""
    from jupyter_mlplat.quality import suites

    config = config or MLPlat()
    specs = suites.expand(config, parse(expectations))
    return str(suites.save_suite(config, name, specs))


def find_results(
    dataset: str | None = None,
    suite: str | None = None,
    status: str | None = None,
    limit: int = 20,
    config: MLPlat | None = None,
) -> list[CheckRecord]:
    """Kept check results, newest first, filtered by dataset, suite and status."""
    from jupyter_mlplat.quality import record

    return record.find_results(config or MLPlat(), dataset, suite, status, limit)


def _variable_name(value: Any) -> str | None:
    """The name the caller's caller gave ``value`` (``orders`` in ``validate(orders, ...)``)."""
    frame = inspect.currentframe()
    try:
        caller = frame.f_back.f_back if frame and frame.f_back else None
        if caller is None:
            return None
        for scope in (caller.f_locals, caller.f_globals):
            for key, item in scope.items():
                if item is value and not key.startswith("_"):
                    return str(key)
        return None
    finally:
        del frame
