# The README's quick start: `make serve` and `make test`.
.PHONY: install install-dev serve demo test lint

install:
	scripts/install.sh

install-dev:
	scripts/install.sh dev

serve: install
	.venv/bin/vidserve serve

demo: install
	.venv/bin/vidserve generate --prompt "a red boat on a blue ocean" -o out/demo.mp4

test: install-dev
	HF_HUB_OFFLINE=1 .venv/bin/python -m pytest -q

lint: install-dev
	.venv/bin/ruff check . && .venv/bin/mypy server pipelines benchmarks
