#!/usr/bin/env bash
# Install the single-user notebook environment: the jupyter-mlplat wheel with its `livy` extra
# (sparkmagic, for Livy mode) and JupyterHub's single-user server (`jupyterhub-singleuser`, which
# the hub spawns), at the versions of uv.lock, bytecode compiled; then check that the extensions
# are enabled. The image runs it; the tests run the same script into a fresh venv (no Docker).
#   install.sh <env-dir> <jupyter_mlplat-*.whl> <constraints: uv export --all-extras of uv.lock>
# MLPLAT_SYSTEM_PACKAGES=1 (the image) also installs Java 17 for Spark with apt-get.
set -euo pipefail
env_dir=$1 wheel=$2 constraints=$3

if [[ "${MLPLAT_SYSTEM_PACKAGES:-0}" == 1 ]]; then
  apt-get update -qq
  # Java for Spark; krb5 headers + a compiler for sparkmagic's gssapi (built from source)
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
    openjdk-17-jre-headless libkrb5-dev gcc git tini >/dev/null
  rm -rf /var/lib/apt/lists/*
fi
command -v java >/dev/null || { echo "install.sh: Java 17 is needed for Spark" >&2; exit 1; }

[[ -x "$env_dir/bin/python" ]] || uv venv --quiet --python 3.11 "$env_dir"
export VIRTUAL_ENV=$env_dir
# the lock as constraints: only what the wheel, its livy extra and jupyterhub need is installed
# (not KubeSpawner); imports are 2-3x slower without compiled bytecode
uv pip install --quiet --compile-bytecode -c "$constraints" \
  "jupyter-mlplat[livy] @ file://$(realpath "$wheel")" jupyterhub

# the wheel enables the server extension; kernels get %mlp through its provisioner
listing=$("$env_dir/bin/jupyter" server extension list 2>&1)
grep -q "jupyter_mlplat.*OK" <<<"$listing" || { echo "$listing" >&2; exit 1; }
"$env_dir/bin/jupyter" labextension list 2>&1 | grep -q "jupyter-mlplat.*enabled.*OK"
echo "install.sh: notebook environment ready in $env_dir"
