# StackWarden: `make demo` runs the main job on built-in data; `make test` runs the whole suite.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin

.PHONY: demo demo-serve test system-deps clean

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

# the demo, then its dashboard on http://127.0.0.1:8080/ until Ctrl-C
demo-serve: $(VENV)/.installed
	$(BIN)/stackwarden demo --serve

system-deps:
	./scripts/install-system-deps

test: $(VENV)/.installed-test system-deps
	$(BIN)/python -m pytest

clean:
	rm -rf $(VENV) .pytest_cache build src/*.egg-info
