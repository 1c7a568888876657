# Everything runs on this machine: no Docker needed (compose/ has the Docker version of the stack).
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.DEFAULT_GOAL := help
# Node packages the tests drive: the AsyncAPI parser, and providers' own SDKs (each pinned by its package-lock.json).
NODE_DIRS := tests/asyncapi tests/sdks
NODE_STAMP := $(NODE_DIRS:%=%/node_modules/.installed)

.PHONY: help install node-deps up down cluster-up cluster-down redis-cluster-up redis-cluster-down run test test-unit lint bench docs

help:  ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(STAMP): pyproject.toml constraints.txt
	@$(PYTHON) -c 'import sys; sys.exit(0 if sys.version_info >= (3, 11) else "Python 3.11+ is needed; $(PYTHON) is " + sys.version.split()[0])'
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --disable-pip-version-check -c constraints.txt -e '.[dev,bench]'
	@touch $@

install: $(STAMP)  ## create .venv and install the pinned dependencies

%/node_modules/.installed: %/package.json %/package-lock.json
	@command -v npm >/dev/null || { echo "make: npm (Node 20+) is missing: it installs the Node packages the tests use"; exit 1; }
	npm ci --prefix $* --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

node-deps: $(NODE_STAMP)  ## the AsyncAPI parser and the providers' Node SDKs, pinned by tests/*/package-lock.json (git-ignored node_modules)

up: $(STAMP)  ## start Kafka and Redis in the background unless they answer already (providing what is missing)
	@$(BIN)/python compose/local/stack.py up

down:  ## stop the Kafka and Redis that `make up` started
	@$(PYTHON) compose/local/stack.py down

cluster-up: $(STAMP)  ## three KRaft brokers (19092, 19102, 19112), every topic on 3 replicas, 2 in sync; prints the settings
	@$(BIN)/python compose/local/stack.py cluster-up

cluster-down:  ## stop the three brokers of cluster-up
	@$(PYTHON) compose/local/stack.py cluster-down

redis-cluster-up:  ## a Redis Cluster: three masters (17001-17003) with a replica each (17004-17006); prints the settings
	@$(PYTHON) compose/local/stack.py redis-cluster-up

redis-cluster-down:  ## stop the Redis Cluster of redis-cluster-up and delete its data
	@$(PYTHON) compose/local/stack.py redis-cluster-down

run: $(STAMP)  ## Kafka, Redis, receiver and one consumer group in the foreground; Ctrl-C stops them
	@$(BIN)/python compose/local/run.py

test: $(STAMP) $(NODE_STAMP) up  ## the whole suite against the real Kafka and Redis
	@# Tests start brokers of their own: a Java and the jars first, outside any test's timeout.
	@$(BIN)/python compose/local/stack.py fetch
	$(BIN)/pytest $(PYTEST_ARGS)

test-unit: $(STAMP) $(NODE_STAMP)  ## the fast loop: tests/unit only, no Kafka, Redis or Java needed
	$(BIN)/pytest tests/unit $(PYTEST_ARGS)

bench: $(STAMP) up  ## the benchmark: receiver and consumer against their baselines (and Svix Bridge with BENCH_BRIDGE=<its binary>)
	@command -v wrk >/dev/null || { echo "make bench: wrk is missing (apt-get install -y wrk)"; exit 1; }
	@command -v go >/dev/null || { echo "make bench: go is missing (it builds the open-loop load generator)"; exit 1; }
	$(BIN)/python -m bench $(BENCH_ARGS)
	@# The Rust peer only when the operator built it (docs/performance.md says how): nothing here fetches it.
	$(if $(BENCH_BRIDGE),$(BIN)/python -m bench.peer --bridge "$(BENCH_BRIDGE)" --out bench/results/peer.json)

docs: $(STAMP)  ## write docs/asyncapi.json, the AsyncAPI 3.0 document of the topics, from the code
	$(BIN)/python -m schemas asyncapi docs/asyncapi.json

lint: $(STAMP)  ## ruff (lint and format), mypy --strict, import contracts
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports
