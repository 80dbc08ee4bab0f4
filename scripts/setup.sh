#!/usr/bin/env bash
# Install everything jupyter-mlplat needs on a fresh Debian machine, from the locked versions.
#   scripts/setup.sh          the platform (Python env from uv.lock, the lab extension)
#   scripts/setup.sh --test   also the browser used by the UI tests
# Idempotent: a second run only checks.
set -euo pipefail
cd "$(dirname "$0")/.."

apt_packages=(git xz-utils libkrb5-dev haproxy)
[[ "${1:-}" == "--test" ]] && apt_packages+=(chromium chromium-driver postgresql)
missing=()
for package in "${apt_packages[@]}"; do
  dpkg -s "$package" >/dev/null 2>&1 || missing+=("$package")
done
if ((${#missing[@]})); then
  sudo=""; [[ $(id -u) -ne 0 ]] && sudo="sudo"
  echo "setup: apt-get install ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

uv_version=0.13.9
if ! command -v uv >/dev/null || [[ "$(uv --version | cut -d' ' -f2)" != "$uv_version" ]]; then
  python3 -m pip install --quiet --disable-pip-version-check "uv==$uv_version"
fi

# The JupyterLab extension: npm packages from package-lock.json, rebuilt when its sources change.
built=jupyter_mlplat/labextension/static/style.js
if [[ ! -d labextension/node_modules ]] || [[ labextension/package-lock.json -nt labextension/node_modules/.package-lock.json ]]; then
  (cd labextension && npm ci --no-audit --no-fund --loglevel=error)
fi
if [[ ! -f $built ]] || [[ -n "$(find labextension/src labextension/style labextension/schema labextension/package.json -newer "$built" -print -quit)" ]]; then
  (cd labextension && npm run --silent build:prod)
fi

# configurable-http-proxy for the local multi-user hub (`mlplat hub`), from its package-lock.json
proxy=spawner_config/local
if [[ ! -d $proxy/node_modules ]] || [[ $proxy/package-lock.json -nt $proxy/node_modules/.package-lock.json ]]; then
  (cd $proxy && npm ci --no-audit --no-fund --loglevel=error)
fi

# Python: exactly the locked versions, the project itself editable (its front-end is built above),
# with every extra (livy: sparkmagic; hub: JupyterHub + KubeSpawner) since the tests cover them all.
# bytecode compiled up front: imports are 2-3x slower without it (this machine sets
# PYTHONDONTWRITEBYTECODE, so Python would never cache it itself)
SKIP_JUPYTER_BUILDER=1 uv sync --frozen --all-extras --python 3.11 --compile-bytecode --quiet
# what `jupyter labextension develop` does: the lab loads the extension straight from the build
# (the editable install copies a snapshot of the build there as shared-data: replace it with the link)
mkdir -p .venv/share/jupyter/labextensions
installed=.venv/share/jupyter/labextensions/jupyter-mlplat
[[ -L $installed ]] || rm -rf "$installed"
ln -sfn "$PWD/jupyter_mlplat/labextension" "$installed"
mkdir -p .venv/share/jupyter/lab/settings/overrides.d
ln -sfn "$PWD/jupyter_mlplat/etc/lab_settings/jupyter-mlplat.json" .venv/share/jupyter/lab/settings/overrides.d/
# the local model servers' environment (MLServer), so the first deploy does not build it;
# the tests use their own copy under .cache/
if [[ "${1:-}" == "--test" ]]; then
  MLP_SERVING_ENV_DIR="$PWD/.cache/serving-env" .venv/bin/mlplat serving-env >/dev/null
else
  .venv/bin/mlplat serving-env >/dev/null
fi
echo "setup: ready ($(.venv/bin/python -c 'import jupyter_mlplat; print("jupyter-mlplat", jupyter_mlplat.__version__)'))"
