# The two commands: `make demo` and `make test`. Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
SHARED_DATA := $(abspath ../shared/data)

# Tests and the demo read data from the shared mirror when it is there (never the network).
ifneq ($(wildcard $(SHARED_DATA)),)
export SEQGRAPH_DATA ?= $(SHARED_DATA)
endif

.PHONY: demo test lint docs install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --upgrade pip setuptools wheel

# PyTorch Geometric Temporal is the test-only reference of the graph-recurrent cells; its requirements torch-sparse and
# torch-scatter have no wheels for this torch and the cells compared never call them (tests/helpers.py): it goes in
# without them.
$(VENV)/.installed: $(BIN)/python pyproject.toml
	$(BIN)/python -m pip install -e '.[dev,docs]'
	$(BIN)/python -m pip install --no-deps torch-geometric-temporal==0.56.2
	touch $@

install: $(VENV)/.installed

demo: install
	$(BIN)/seqgraph reproduce --profile quick --out report
	@echo "Open report/index.html (report/report.md has the same content)."

# The manual, built as the test suite builds it: every page read afresh (-E), every tutorial run, warnings as errors.
docs: install
	$(BIN)/sphinx-build -W --keep-going -E -b html docs docs/_build/html
	@echo "Open docs/_build/html/index.html."

lint: install
	$(BIN)/ruff check src tests benchmarks results

test: install lint
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) report
