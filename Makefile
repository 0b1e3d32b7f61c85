PY := .venv/bin/python

.PHONY: install lint format test quick docs bench demo ui

install:
	python3 -m venv .venv && $(PY) -m pip install -q -e ".[dev]"

lint:
	.venv/bin/ruff check . && .venv/bin/ruff format --check .

format:
	.venv/bin/ruff format . && .venv/bin/ruff check --fix .

test:
	$(PY) -m pytest -q -n auto --dist loadfile

# the inner loop: everything but the real-data, notebook and full-training tests
quick:
	$(PY) -m pytest -q -m "not slow"

# the API reference site, as the tests build it (site/ is not in git)
docs:
	$(PY) -m mkdocs build --strict

bench:
	$(PY) benchmarks/bench_features.py && $(PY) benchmarks/bench_fit.py && $(PY) benchmarks/bench_tracking.py

demo:
	.venv/bin/churnml demo

# MLflow's UI on the default store (./mlruns.db); open http://127.0.0.1:5000
ui:
	.venv/bin/mlflow ui --backend-store-uri sqlite:///mlruns.db --host 127.0.0.1
