#!/usr/bin/env bash
# Install the hub environment: JupyterHub + KubeSpawner at the versions of uv.lock, the
# jupyter-mlplat wheel without its notebook dependencies (the hub only needs the config object
# and the spawner helpers), and configurable-http-proxy from spawner_config/local.
# The image runs it; the tests run it into a fresh venv.
#   install.sh <env-dir> <jupyter_mlplat-*.whl> <requirements.txt exported from uv.lock> [proxy-dir]
set -euo pipefail
env_dir=$1 wheel=$2 constraints=$3 proxy_dir=${4:-}
[[ -x "$env_dir/bin/python" ]] || uv venv --quiet --python 3.11 "$env_dir"
export VIRTUAL_ENV=$env_dir
# the locked versions as constraints: only the hub's part of the lock is installed
uv pip install --quiet --compile-bytecode -c "$constraints" \
  jupyterhub jupyterhub-kubespawner kubernetes-asyncio pyyaml traitlets
# the wheel without its dependencies: the hub extra's part of them is installed above
uv pip install --quiet --compile-bytecode --no-deps "$wheel"
if [[ -n "$proxy_dir" ]]; then
  (cd "$proxy_dir" && npm ci --omit=dev --no-audit --no-fund --loglevel=error)
fi
"$env_dir/bin/jupyterhub" --version >/dev/null
"$env_dir/bin/python" -c "import kubespawner, jupyter_mlplat.hub.environment"
echo "install.sh: hub environment ready in $env_dir"
