# The two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED_DATA := $(abspath ../shared/data)

# Tests and the demo read data from the shared mirror when it is there (never the network).
ifneq ($(wildcard $(SHARED_DATA)),)
export SEQGRAPH_DATA ?= $(SHARED_DATA)
endif

.PHONY: demo test lint install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -e '.[dev]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/seqgraph reproduce --profile quick --out report
	@echo "Open report/index.html (report/report.md has the same content)."

lint: install
	$(BIN)/ruff check src tests benchmarks results

test: install lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) report
