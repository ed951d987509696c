# VectorFlow: `make run` starts a demo server, `make test` runs the whole suite.
PYTHON ?= python3
VENV   ?= .venv
BIN    := $(VENV)/bin
HOST   ?= 127.0.0.1
PORT   ?= 5000

.PHONY: run test install install-test browser lint clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(VENV)/.installed: setup.cfg pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(VENV)/.installed-test: $(VENV)/.installed setup.cfg
	$(BIN)/pip install --quiet -e '.[test]'
	touch $@

install: $(VENV)/.installed

install-test: $(VENV)/.installed-test

AGENTS ?= 12

## The demo: SQLite (instance/vectorflow.db), a first admin, a demo team with three deployed
## pipelines, the server (gunicorn, one gevent worker) and $(AGENTS) simulated agents; Ctrl-C stops all.
run: install
	$(BIN)/vectorflow init
	$(BIN)/vectorflow demo --serve --host $(HOST) --port $(PORT) --agents $(AGENTS)

## Run the whole suite on SQLite and PostgreSQL (browser tests included).
test: install-test browser
	$(BIN)/python -m pytest $(PYTEST_ARGS)

## Debian's Chromium for the browser tests (test tools cannot download browsers here).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null) \
	  || { echo "ERROR: could not install chromium (run as root with apt-get)"; exit 1; }; }

lint: install
	$(BIN)/pip install --quiet ruff && $(BIN)/ruff check vectorflow tests

clean:
	rm -rf $(VENV) *.egg-info
