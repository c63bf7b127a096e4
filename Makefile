# make run: a working server on http://127.0.0.1:5000 from a fresh clone.
# make test: the whole suite, after .ci/install-test-tools (chromium, nginx, java from Debian).
# Both create .venv on first use.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-tools lint clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e '.[test]'
	touch $(STAMP)

run: $(STAMP)
	$(BIN)/participation db upgrade
	$(BIN)/participation demo --if-empty
	$(BIN)/participation serve --host 127.0.0.1 --port 5000

# The slowest tests are listed after the run, so that a slow one is noticed.
PYTEST_DURATIONS ?= 25

# Debian's chromium, nginx and a Java runtime: installed when run as root, else the command is shown.
test-tools:
	bash .ci/install-test-tools

test: test-tools $(STAMP)
	$(BIN)/python -m pytest -n $(or $(PYTEST_WORKERS),auto) --durations=$(PYTEST_DURATIONS) $(PYTEST_ARGS)

lint: $(STAMP)
	$(BIN)/ruff check .

clean:
	rm -rf $(VENV) build *.egg-info .pytest_cache
