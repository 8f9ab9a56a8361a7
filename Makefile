# StackWarden: `make demo` runs the main job on built-in data; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo test system-deps clean

$(BIN)/python:
	./scripts/ensure-python-venv $(PYTHON)
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip

$(VENV)/.installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $@ $(VENV)/.installed

demo: $(VENV)/.installed
	$(BIN)/stackwarden demo

system-deps:
	./scripts/install-system-deps

test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
