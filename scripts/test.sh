#!/usr/bin/env bash
# Lint everything, then run the whole test suite (unit, integration with real servers, browser).
set -euo pipefail
cd "$(dirname "$0")/.."
export MLFLOW_DISABLE_TELEMETRY=true GX_ANALYTICS_ENABLED=false

echo "== lint"
.venv/bin/ruff check .
.venv/bin/ruff format --check .
.venv/bin/mypy
.venv/bin/lint-imports  # the layers of docs/architecture.md ([tool.importlinter] in pyproject.toml)
.venv/bin/deptry .  # declared = imported (pyproject.toml [tool.deptry] lists what it cannot see)
(cd labextension && npm run --silent lint)

echo "== tests"
.venv/bin/pytest "$@"
