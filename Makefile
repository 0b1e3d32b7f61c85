PY := .venv/bin/python

.PHONY: install lint format test bench demo

install:
	python3 -m venv .venv && $(PY) -m pip install -q -e ".[dev]"

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

test:
	$(PY) -m pytest -q

bench:
	$(PY) benchmarks/bench_features.py && $(PY) benchmarks/bench_fit.py

demo:
	.venv/bin/churnml demo
