#!/usr/bin/env bash
# Install the model serving environment: MLServer + mlserver-mlflow with the notebook's model
# libraries (jupyter_mlplat/deploy/serving/requirements.txt, pinned to the notebook's versions).
# The image runs it; the tests run it into a fresh venv.
#   install.sh <env-dir> <serving requirements.txt>
set -euo pipefail
env_dir=$1 requirements=$2
[[ -x "$env_dir/bin/python" ]] || uv venv --quiet --python 3.11 "$env_dir"
VIRTUAL_ENV=$env_dir uv pip install --quiet --compile-bytecode -r "$requirements"
"$env_dir/bin/mlserver" --version >/dev/null
"$env_dir/bin/python" -c "import mlserver_mlflow"
echo "install.sh: serving environment ready in $env_dir"
