# rekomendasi: the two set-up commands.
#   make run   set up .venv, build the demo data with the simulator where none is given, validate it,
#              build the feature snapshot, train the ranker, register a champion in MLflow, score the
#              snapshot with it (the scores store the API reads), and serve the API on 127.0.0.1:$(PORT),
#              printing a demo key and a curl example (Ctrl-C stops it)
#   make test  set up .venv, then ruff, mypy on src/ and the whole pytest suite
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
DATA ?= data/demo
EMPLOYEES ?= 2000
SEED ?= 42
AS_OF ?= 2025-12-31
SNAPSHOT ?= var/snapshot
PORT ?= 8000
TORCH_VERSION := 2.13.0

.PHONY: run test setup lint typecheck pytest bench-simulate bench-features bench-train bench-inputs bench-score bench-serve clean

setup: $(STAMP)

# torch first, pinned to the CPU build this machine provides, so nothing pulls a multi-GB CUDA build.
# PostgreSQL's server binaries for the state store's tests and Debian's Chromium for the web page's browser
# tests (each installed with apt-get when root and missing; see the scripts).
$(STAMP): pyproject.toml scripts/ensure-postgresql.sh scripts/ensure-chromium.sh
	bash scripts/ensure-postgresql.sh
	bash scripts/ensure-chromium.sh
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet torch==$(TORCH_VERSION)
	$(BIN)/python -m pip install --quiet -e '.[dev]'
	touch $(STAMP)

run: $(STAMP)
	@if [ ! -f "$(DATA)/employees.csv" ] && [ ! -f "$(DATA)/employees.parquet" ]; then \
		echo "no data in $(DATA): simulating a demo world of $(EMPLOYEES) employees (seed $(SEED))"; \
		$(BIN)/rekomendasi simulate --out $(DATA) --employees $(EMPLOYEES) --seed $(SEED); \
	fi
	$(BIN)/rekomendasi validate --data $(DATA)
	$(BIN)/rekomendasi features --data $(DATA) --as-of $(AS_OF) --out $(SNAPSHOT)
	$(BIN)/rekomendasi train --data $(DATA) --as-of $(AS_OF)
	$(BIN)/rekomendasi models
	$(BIN)/rekomendasi score --snapshot $(SNAPSHOT)
	REKOMENDASI_SNAPSHOT_DIR=$(SNAPSHOT) \
		$(BIN)/rekomendasi serve --host 127.0.0.1 --port $(PORT) --demo-key

lint: $(STAMP)
	$(BIN)/ruff check src tests
	$(BIN)/ruff format --check src tests

typecheck: $(STAMP)
	$(BIN)/mypy src

pytest: $(STAMP)
	$(BIN)/pytest -q -n 2 --durations=15

test: lint typecheck pytest

bench-simulate: $(STAMP)
	$(BIN)/rekomendasi bench simulate --employees 100000 --record benchmarks/results.jsonl

bench-train: $(STAMP)
	test -f data/bench-100k/employees.parquet || $(BIN)/rekomendasi simulate --out data/bench-100k --employees 100000 --seed 7 --format parquet
	$(BIN)/rekomendasi bench train --data data/bench-100k --record benchmarks/results.jsonl

bench-features: $(STAMP)
	test -f data/bench-100k/employees.parquet || $(BIN)/rekomendasi simulate --out data/bench-100k --employees 100000 --seed 7 --format parquet
	$(BIN)/rekomendasi bench features --data data/bench-100k --no-embeddings --record benchmarks/results.jsonl
	$(BIN)/rekomendasi bench features --data data/bench-100k --embeddings --record benchmarks/results.jsonl

# The 100k world, its snapshot and a champion trained on it, made when missing.
bench-inputs: $(STAMP)
	test -f data/bench-100k/employees.parquet || $(BIN)/rekomendasi simulate --out data/bench-100k --employees 100000 --seed 7 --format parquet
	test -f var/bench-snap/roster.parquet || $(BIN)/rekomendasi features --data data/bench-100k --as-of 2025-12-31 --no-embeddings --out var/bench-snap
	test -f var/bench-mlflow/mlflow.db || $(BIN)/rekomendasi bench train --data data/bench-100k

bench-score: bench-inputs
	$(BIN)/rekomendasi bench score --snapshot var/bench-snap --out var/bench-scores --record benchmarks/results.jsonl

# The server reads the scores store of its snapshot and champion: written (or rewritten) first.
bench-serve: bench-inputs
	REKOMENDASI_MLFLOW_URI=sqlite:///var/bench-mlflow/mlflow.db \
		$(BIN)/rekomendasi score --snapshot var/bench-snap --out var/bench-scores
	$(BIN)/rekomendasi bench serve --snapshot var/bench-snap --scores var/bench-scores --record benchmarks/results.jsonl

# The server's reliability (issue #10), each scenario on a fresh server: a 500 MB upload (401/413, memory),
# heavy agency pages beside /health and ordinary probers, kill -9 amid 500 requests (audit rows, audit
# verify), a 10-minute soak at 100 requests/s, throughput with the durable audit, a key over its rate limit.
.PHONY: bench-reliability
bench-reliability: bench-inputs
	REKOMENDASI_MLFLOW_URI=sqlite:///var/bench-mlflow/mlflow.db \
		$(BIN)/rekomendasi score --snapshot var/bench-snap --out var/bench-scores
	$(BIN)/rekomendasi bench reliability --snapshot var/bench-snap --scores var/bench-scores \
		--overload-workers 1 --overload-workers 2 --record benchmarks/results.jsonl

clean:
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
