#!/usr/bin/env bash
# Wheels a lent GPU machine lacks (its image has torch, transformers, accelerate, peft, tokenizers,
# scikit-image, opencv, pytest, httpx; no registry is reachable from it), downloaded here into .whl/
# for Python 3.12 x86-64. The device tool carries .whl (ignored by git) with the working tree.
# On the device, first thing in every command:
#   python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl \
#     && export PYTHONPATH=/tmp/site:$PWD || exit
# Then check: python3 -c "import diffusers, av, torchao, transformers; print(diffusers.__version__, transformers.__version__)"
# If the image's transformers is older than 5.0, add transformers==5.23.0 below (and its
# huggingface_hub if the import asks for one); mind the 64 MiB the device tool carries.
set -euo pipefail
cd "$(dirname "$0")/.."
grep -qx '/.whl/' .git/info/exclude 2>/dev/null || echo '/.whl/' >> .git/info/exclude
python3 -m pip download -q --no-deps --only-binary=:all: --python-version 3.12 --implementation cp \
  --platform manylinux_2_28_x86_64 --platform manylinux_2_24_x86_64 --platform manylinux_2_17_x86_64 \
  --platform manylinux2014_x86_64 -d .whl \
  av==18.1.0 diffusers==0.42.1 torchao==0.18.0 ftfy==6.3.1 wcwidth==0.9.4 \
  pydantic-settings==2.16.3 python-dotenv==1.2.4 "$@"
du -sh .whl
