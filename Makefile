# Estimator: `make run` brings the whole stack up locally, `make test` runs lint, types and the suite.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
HOST ?= 127.0.0.1
PORT ?= 8000

.PHONY: install run test lint typecheck pytest bench bench-read bench-chat clean

$(BIN)/estimator: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e ".[dev]"
	touch $(BIN)/estimator

install: $(BIN)/estimator

run: install
	$(BIN)/estimator run --host $(HOST) --port $(PORT)

lint: install
	$(BIN)/ruff check services tests loadtests
	$(BIN)/ruff format --check services tests loadtests

typecheck: install
	$(BIN)/mypy services tests

pytest: install
	$(BIN)/pytest

test: lint typecheck pytest

bench: install
	$(BIN)/python -m loadtests.fleet_budget

# e.g. make bench-read BENCH_READ_ARGS="--vus 500 --steady 30"; writes loadtests/reports/read_path.md and a PNG
bench-read: install
	$(BIN)/python -m loadtests.read_path $(BENCH_READ_ARGS)

# e.g. make bench-chat BENCH_CHAT_ARGS="--users 60 --steady 60"; writes loadtests/reports/chat.md, .json and .png
bench-chat: install
	$(BIN)/python -m loadtests.chat_load $(BENCH_CHAT_ARGS)

clean:
	rm -rf .estimator .pytest_cache .mypy_cache .ruff_cache
