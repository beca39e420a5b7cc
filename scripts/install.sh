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
spec="."
if [ ${#extras[@]} -gt 0 ]; then spec=".[$(IFS=,; echo "${extras[*]}")]"; fi
"$VPY" -m pip install -q -e "$spec"
echo "vidserve installed in .venv ($("$VPY" -c 'import torch; print("torch", torch.__version__, "cuda" if torch.cuda.is_available() else "cpu")'))"
