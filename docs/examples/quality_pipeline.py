"""A scheduled pipeline step: validate a dataset against a suite saved from a notebook.

    python docs/examples/quality_pipeline.py orders.csv --suite orders [--fail]

Run it from the project (suites are found in ``quality/suites`` at the project's root, or set
``MLP_QUALITY_SUITES_DIR``); with ``MLP_TRACKING_URI`` set the result is logged to MLflow, as
``%%mlp check`` does in a notebook. Prints the result as JSON; ``--fail`` exits with status 1
when an expectation fails, which stops the pipeline.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

from jupyter_mlplat import quality


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("csv", help="the dataset (a CSV file)")
    parser.add_argument("--suite", required=True, help="name of the saved suite")
    parser.add_argument("--dataset", help="dataset name in the results (default: the suite)")
    parser.add_argument("--fail", action="store_true", help="exit 1 when a check fails")
    args = parser.parse_args()

    frame = pd.read_csv(args.csv)
    try:
        result = quality.validate(
            frame, suite=args.suite, dataset=args.dataset or args.suite, raise_on_failure=args.fail
        )
    except quality.QualityCheckFailed as failed:
        print(failed.result.to_json())
        print(f"quality gate: {failed}", file=sys.stderr)
        return 1
    print(result.to_json())
    return 0


if __name__ == "__main__":
    sys.exit(main())
