# The verbs a newcomer looks for. Everything runs from a virtual environment in .venv that
# these targets create from requirements*.txt (the one place versions are pinned).
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
export PYTHONPATH := $(CURDIR)

.PHONY: run up down compose-up compose-down test lint bench vendor install clean

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: $(VENV)/.runtime requirements-dev.txt
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime

vendor: $(VENV)/.runtime
	$(PY) -m frontend.vendor

## run: everything in one process on http://localhost:8000 (PORT overrides)
run: vendor
	$(PY) -m tools.embedded

## up: the local distributed shape behind nginx on http://localhost:8080 (GATEWAY_PORT overrides)
up: vendor
	$(PY) -m tools.stack up

## down: stop what `make up` started
down: $(VENV)/.runtime
	$(PY) -m tools.stack down

## compose-up: docker-compose.yml in containers, every service healthy, on http://localhost:8080
## (GATEWAY_PORT overrides). Docker where an engine answers; else podman, with stand-in images
## built from Debian's packages for base images that cannot be pulled (tools/compose_run.py)
compose-up: $(VENV)/.dev
	$(PY) -m tools.compose_run up

## compose-down: stop it and remove its containers, networks and volumes (the data)
compose-down: $(VENV)/.dev
	$(PY) -m tools.compose_run down --volumes

## test: every test; provisions PostgreSQL, RabbitMQ, nginx when missing
test: $(VENV)/.dev vendor
	$(PY) -m tools.testenv
	$(PY) -m pytest $(PYTEST_ARGS)

lint: $(VENV)/.dev
	$(VENV)/bin/ruff check .

## bench: the benchmarks under bench/ (they start their own stack); results in bench/results/
## (bench.bid_transaction compares two checkouts: python -m bench.bid_transaction OTHER_CHECKOUT)
bench: $(VENV)/.dev vendor
	$(PY) -m bench.bid_path
	$(PY) -m bench.fanout
	$(PY) -m bench.search
	$(PY) -m bench.mixed

clean:
	rm -rf $(VENV) var
