# Two commands on a fresh machine (Python 3.11+, Java 17):
#   make run    set up, then run the main job on the embedded local default
#   make test   set up, then run the whole test suite (classic, then through Spark Connect)
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: setup jars run test bench clean

setup: $(BIN)/.installed jars

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[spark,connect,dev]'
	touch $@

# Fetches the Delta Lake jars from Maven Central into the per-user cache once; later runs are
# offline (this step then only checks the cache).
jars: $(BIN)/.installed
	$(BIN)/inference-logs fetch-jars

run: setup
	$(BIN)/inference-logs hourly --config conf/local.yaml

# Pass 1: everything on a local classic session. Pass 2: the end-to-end job tests again through
# a local Spark Connect server (started and stopped by the suite).
# Each pass lists its slowest tests.
test: setup
	$(BIN)/pytest --durations=15
	$(BIN)/pytest --connect -m e2e --durations=15

# Throughput and incremental-cost figures (prints them; asserts nothing). ROWS=200000 and an hourly
# run over 1,000 new rows are the target scale.
ROWS ?= 200000
INCREMENTAL_ROWS ?= 1000
bench: setup
	$(BIN)/python -m benchmarks.bench --rows $(ROWS) --incremental-rows $(INCREMENTAL_ROWS)

clean:
	rm -rf data spark-warehouse metastore_db derby.log
