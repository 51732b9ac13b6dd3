# make generate   - install the template engines into .venv and generate a service
#                   into build/ (answers: make generate ANSWERS="use_encryption=true")
# make test       - the template's whole test suite (what .ci/run runs)
# make copier.yml - write copier.yml's questions from cookiecutter.json

PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
ANSWERS ?=

.PHONY: test generate lint copier.yml

$(BIN)/.engines: requirements-engines.txt
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -r requirements-engines.txt
	touch $@

$(BIN)/.installed: $(BIN)/.engines requirements-test.txt tests/node/package-lock.json
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r requirements-test.txt
	npm ci --prefix tests/node --no-audit --no-fund --loglevel=error
	touch $@

test: $(BIN)/.installed
	$(BIN)/python -m pytest -n 2 --durations=15

lint: $(BIN)/.installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

generate: $(BIN)/.engines
	$(BIN)/cookiecutter --no-input --overwrite-if-exists -o build . $(ANSWERS)

copier.yml:
	$(PYTHON) hooks/write_copier_yml.py
