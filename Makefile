# make test       - the template's whole test suite (what .ci/run runs)
# make generate   - generate a service with the defaults into ./build/

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin

.PHONY: test generate lint

$(BIN)/.installed: requirements-test.txt tests/node/package-lock.json
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-test.txt
	npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
	touch $@

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 --durations=15

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

generate: $(BIN)/.installed
	$(BIN)/cookiecutter --no-input --overwrite-if-exists -o build .
