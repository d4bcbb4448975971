# Two commands on a fresh machine (Python 3.11+, Java 17):
#   make run    set up, then run the main job on the embedded local default
#   make test   set up, then run the whole test suite
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
JARS   := .cache/spark-jars/.complete

.PHONY: setup run test bench clean

setup: $(BIN)/.installed $(JARS)

$(BIN)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[spark,dev]'
	touch $@

# Fetches the Delta Lake jars from Maven Central once; later runs are offline.
$(JARS): $(BIN)/.installed
	$(BIN)/inference-logs fetch-jars

run: setup
	$(BIN)/inference-logs hourly --config conf/local.yaml

test: setup
	$(BIN)/pytest

# Throughput and incremental-cost figures (prints them; asserts nothing). ROWS=200000 is the target scale.
ROWS ?= 200000
bench: setup
	$(BIN)/python -m benchmarks.bench --rows $(ROWS) --incremental-rows $$(( $(ROWS) / 100 ))

clean:
	rm -rf data spark-warehouse metastore_db derby.log
