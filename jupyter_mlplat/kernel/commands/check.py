"""``%%mlp check <frame> [--suite S] [--save S] [--name N] [--fail] [--no-log]``.

The cell body lists expectations in the short syntax (``amount: between 0 10000``) or names
saved suites (``suite: orders``); ``%mlp check df --suite orders`` runs a suite with no body.
The frame is validated with great_expectations, the report shown, the result logged to MLflow.
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.display import display

from jupyter_mlplat.kernel.commands import ArgumentParser

USAGE = "%%mlp check <dataframe> [--suite NAME] [--save NAME] [--name NAME] [--fail] [--no-log]"


def parser() -> ArgumentParser:
    p = ArgumentParser("check")
    p.add_argument("frame", help="the DataFrame to validate (pandas or Spark), by variable name")
    p.add_argument("--suite", help="run a saved suite (plus the cell's own lines)")
    p.add_argument("--save", help="save the cell's expectations as this suite")
    p.add_argument("--name", help="name of the check (default: suite, else the frame)")
    p.add_argument("--fail", action="store_true", help="raise when an expectation fails")
    p.add_argument("--no-log", action="store_true", help="do not log to MLflow")
    return p


def run(magics: Any, args: list[str], cell: str | None) -> Any:
    """Validate the frame, display the report, log it; with ``--fail`` stop on failure."""
    options = parser().parse_args(args)
    if cell is None and not options.suite:  # ``%mlp check df --suite orders`` needs no body
        raise UsageError(f"%mlp check without a cell body needs --suite. {USAGE}")
    cell = cell or ""
    from jupyter_mlplat import quality
    from jupyter_mlplat.quality import record, suites
    from jupyter_mlplat.quality.spec import parse, validate_name

    config = magics.mlplat
    parsed = parse(cell)
    if options.save:
        validate_name(options.save, "suite name")
        if not parsed.expectations and not parsed.suites:
            raise UsageError("%%mlp check --save: the cell holds no expectations to save")
    if not (options.suite or parsed.expectations or parsed.suites):
        raise UsageError(f"%%mlp check: write expectations in the cell or use --suite. {USAGE}")
    frame = _lookup(magics.shell.user_ns, options.frame)
    specs = suites.expand(config, parsed)
    suite = options.suite or options.save
    if not suite and len(parsed.suites) == 1 and not parsed.expectations:
        suite = parsed.suites[0]  # a body of just ``suite: orders`` runs that suite
    result = quality.validate(
        frame,
        options.suite,
        specs,
        name=options.name or suite,
        dataset=options.frame,
        log=False,
        config=config,
    )
    result.suite = suite or ""
    if not options.no_log:
        record.submit(result, config)
    if options.save:
        path = suites.save_suite(config, options.save, specs)
        print(f"saved suite {options.save!r} to {path}")
    if options.fail and not result.success:
        display(result)
        raise UsageError(f"%%mlp check --fail: {result.summary()}")
    return result


def _lookup(namespace: dict[str, Any], expression: str) -> Any:
    """``orders`` or ``data.orders`` from the user's namespace (no arbitrary code runs)."""
    head, *attributes = expression.split(".")
    if not head.isidentifier() or not all(a.isidentifier() for a in attributes):
        raise UsageError(f"%%mlp check: {expression!r} is not a variable name. {USAGE}")
    if head not in namespace:
        raise UsageError(f"%%mlp check: no variable {head!r} in this kernel")
    value = namespace[head]
    for attribute in attributes:
        try:
            value = getattr(value, attribute)
        except AttributeError:
            raise UsageError(f"%%mlp check: {expression!r} does not exist") from None
    return value
