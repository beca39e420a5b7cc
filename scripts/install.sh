#!/usr/bin/env bash
# Creates .venv and installs vidserve into it. Picks the torch build for this machine first:
# without an NVIDIA GPU the CPU build (a plain `torch` requirement would pull GBs of CUDA wheels).
# Usage: scripts/install.sh [extra ...]   e.g. scripts/install.sh dev
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
[ -x .venv/bin/python ] || "$PY" -m venv .venv
VPY=.venv/bin/python
extras=("$@")
# The dev tools include a browser for the studio page's test (Playwright drives the system chromium;
# Playwright's own browser download is not used). Debian/Ubuntu package; as root, or via sudo. It
# installs in the background while pip works, and the script waits for it at the end.
chromium_pid=""
for extra in "${extras[@]}"; do
  if [ "$extra" = dev ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    ( $SUDO apt-get update -q && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium ) \
      >.venv/chromium-install.log 2>&1 &
    chromium_pid=$!
  fi
done
if ! "$VPY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "$VPY" -m pip install -q "torch${VIDSERVE_TORCH_VERSION:+==$VIDSERVE_TORCH_VERSION}"
    extras+=(cuda)
  else
    "$VPY" -m pip install -q "torch==${VIDSERVE_TORCH_VERSION:-2.13.0}"
  fi
fi
spec="."
if [ ${#extras[@]} -gt 0 ]; then spec=".[$(IFS=,; echo "${extras[*]}")]"; fi
# The project and its dependencies go in with uv where it can be had (from PyPI, into .venv): it
# resolves, downloads and byte-compiles in parallel, about 30 s against pip's 2 minutes on 2 cores.
# uv does not read pip's configuration, so the torch chosen above is pinned for it, and it
# byte-compiles like pip does (a Python that may not write .pyc files would otherwise compile
# torch and diffusers in every process). VIDSERVE_INSTALLER=pip, or no uv, takes pip.
if [ "${VIDSERVE_INSTALLER:-uv}" = uv ] && { [ -x .venv/bin/uv ] || "$VPY" -m pip install -q uv >/dev/null 2>&1; }; then
  pins=.venv/vidserve-torch-pin.txt
  "$VPY" -c 'import importlib.metadata as m; print("torch==" + m.version("torch"))' >"$pins"
  .venv/bin/uv pip install -q --python "$VPY" --compile-bytecode --constraint "$pins" -e "$spec"
else
  "$VPY" -m pip install -q -e "$spec"
fi
if [ -n "$chromium_pid" ]; then
  if wait "$chromium_pid"; then
    echo "installed chromium for the studio page test"
  else
    echo "could not install chromium (apt-get install chromium; .venv/chromium-install.log): the studio browser test will skip" >&2
  fi
fi
echo "vidserve installed in .venv ($("$VPY" -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'))"
