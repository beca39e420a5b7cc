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
if ! "$VPY" -c "import torch" 2>/dev/null; then
  if command -v nvidia-smi >/dev/null 2>&1 && nvidia-smi -L >/dev/null 2>&1; then
    "$VPY" -m pip install -q "torch${VIDSERVE_TORCH_VERSION:+==$VIDSERVE_TORCH_VERSION}"
    extras+=(cuda)
  else
    "$VPY" -m pip install -q "torch==${VIDSERVE_TORCH_VERSION:-2.13.0}"
  fi
fi
# The dev tools include a browser for the studio page's test (Playwright drives the system chromium;
# Playwright's own browser download is not used). Debian/Ubuntu package; as root, or via sudo.
for extra in "${extras[@]}"; do
  if [ "$extra" = dev ] && ! command -v chromium >/dev/null 2>&1 && command -v apt-get >/dev/null 2>&1; then
    SUDO=""; [ "$(id -u)" = 0 ] || SUDO="sudo -n"
    if $SUDO apt-get update -q >/dev/null && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -q chromium >/dev/null; then
      echo "installed chromium for the studio page test"
    else
      echo "could not install chromium (apt-get install chromium): the studio browser test will skip" >&2
    fi
  fi
done
spec="."
if [ ${#extras[@]} -gt 0 ]; then spec=".[$(IFS=,; echo "${extras[*]}")]"; fi
"$VPY" -m pip install -q -e "$spec"
echo "vidserve installed in .venv ($("$VPY" -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'))"
