# Two commands work on a fresh machine: `make run` and `make test`.
PY      ?= python3.11
VENV    := .venv
BIN     := $(VENV)/bin
STAMP   := $(VENV)/.installed
SAMPLE  := build/sample
OUT     := build/out
AS_OF   := 2026-10-01

export SPARK_LOCAL_IP := 127.0.0.1
export PYSPARK_PYTHON := $(abspath $(BIN)/python)

.PHONY: install run sample test test-slow lint bench dist clean

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV) || python3 -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e ".[dev]"
	@touch $(STAMP)

install: $(STAMP)

$(SAMPLE)/.complete: $(STAMP) $(wildcard jobs/synthetic/*.py)
	$(BIN)/python -m jobs.synthetic --out $(SAMPLE) --persons 3000 --seed 7 --as-of $(AS_OF) --overwrite
	@touch $@

sample: $(SAMPLE)/.complete

TRIALS  := $(sort $(wildcard criteria/*.yaml))

run: $(SAMPLE)/.complete
	$(BIN)/cohort-finder run --omop $(SAMPLE)/omop $(foreach t,$(TRIALS),--criteria $(t)) \
	    --as-of $(AS_OF) --out $(OUT) --overwrite

test: $(STAMP)
	$(BIN)/ruff check .
	$(BIN)/pytest -q -m "not slow"

# cluster, kill and fault tests: slow, run in CI after `make test`
test-slow: $(STAMP)
	$(BIN)/pytest -q -m slow || [ $$? -eq 5 ]   # 5: no slow test collected

lint: $(STAMP)
	$(BIN)/ruff check .

bench: $(STAMP)
	$(BIN)/python tests/benchmarks/run_benchmark.py

dist: $(STAMP)
	$(BIN)/python -m jobs.tools.dist --out dist

clean:
	rm -rf build dist .pytest_cache
