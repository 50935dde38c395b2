# gpu-fleet developer and CI entry points. Everything runs from the project's own virtualenv.
PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STACK  ?= prod
OUT    ?= out/$(STACK)

.PHONY: venv plan check render test lint reference bench clean

$(BIN)/gpufleet: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

venv: $(BIN)/gpufleet

## The main job on the embedded default: the offline plan (and policy verdicts) of a stack.
plan: venv
	$(BIN)/gpufleet plan --stack $(STACK)

check: venv
	$(BIN)/gpufleet check --stack $(STACK)

render: venv
	$(BIN)/gpufleet render --stack $(STACK) --out $(OUT)

## The whole test suite.
test: venv
	$(BIN)/python -m pytest

reference: venv
	$(BIN)/python -m gpufleet.config_reference > docs/config-reference.md

bench: venv
	$(BIN)/python -m benchmarks.run

clean:
	rm -rf $(VENV) out .pytest_cache .hypothesis *.egg-info
