# fraudstream — run `make help` for the list of targets.
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

PYTHON ?= python3
TOOLS := .local/tools
UV := $(TOOLS)/bin/uv
UV_VERSION := 0.13.8
# Never let uv fetch a Python build: use the machine's interpreter.
export UV_PYTHON_DOWNLOADS := never
# A version request (not a path): an existing .venv that satisfies it is reused.
export UV_PYTHON := >=3.11
STACK := $(PYTHON) infra/local/stack.py
# Ports of the local infra (stack.py reads the same variables); tests and
# services find the servers through the two URLs derived from them.
export KAFKA_PORT ?= 9092
export OPENSEARCH_PORT ?= 9200
export KAFKA_BOOTSTRAP_SERVERS ?= 127.0.0.1:$(KAFKA_PORT)
export OPENSEARCH_URL ?= http://127.0.0.1:$(OPENSEARCH_PORT)
PYTEST_ARGS ?=

.PHONY: help
help: ## Show this help
	@awk 'BEGIN {FS = ":.*## "; printf "fraudstream — targets:\n"} \
	     /^[a-zA-Z_-]+:.*## / {printf "  \033[36m%-14s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

$(UV):
	@$(PYTHON) -c 'import sys; sys.exit(sys.version_info < (3, 11))' || \
	  { echo "fraudstream needs Python 3.11+ (found $$($(PYTHON) --version))" >&2; exit 1; }
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

.PHONY: install
install: $(UV) ## Install the Python workspace (uv, one lock file) into .venv
	$(UV) sync --frozen --all-packages --all-extras

.PHONY: lock
lock: $(UV) ## Re-resolve uv.lock after changing a pyproject.toml
	$(UV) lock

.PHONY: infra-up
infra-up: ## Start the local Kafka and OpenSearch (no Docker) and wait until ready
	$(STACK) up

.PHONY: infra-down
infra-down: ## Stop the local Kafka and OpenSearch
	$(STACK) down

.PHONY: infra-status
infra-status: ## Show whether the local Kafka and OpenSearch are up
	$(STACK) status

.PHONY: infra-logs
infra-logs: ## Print the end of the local Kafka and OpenSearch logs
	$(STACK) logs

.PHONY: run
run: install ## Start everything locally (Kafka, OpenSearch, all services); Ctrl-C stops it
	$(UV) run --frozen python infra/local/run.py

.PHONY: up
up: ## Run the same system with Docker Compose (needs a Docker engine)
	@docker info >/dev/null 2>&1 || { echo "no Docker engine answers: use 'make run' instead" >&2; exit 1; }
	docker compose up --build

.PHONY: test
test: install ## Run unit, integration and end-to-end tests (starts and stops the local infra)
	@rm -f .local/started-by-test
	@mkdir -p .local
	$(UV) run --frozen pytest tests/unit $(PYTEST_ARGS)
	$(STACK) up --if-needed-record .local/started-by-test
	@status=0; \
	  $(UV) run --frozen pytest tests/integration tests/e2e $(PYTEST_ARGS) || status=$$?; \
	  $(STACK) down --recorded .local/started-by-test || true; \
	  exit $$status

.PHONY: test-unit
test-unit: install ## Run the unit tests only (no servers needed)
	$(UV) run --frozen pytest tests/unit $(PYTEST_ARGS)

.PHONY: lint
lint: install ## Lint (ruff), type-check (mypy, strict on shared/) and check schema drift
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy shared/fraudstream_shared services
	$(UV) run --frozen python -m fraudstream_shared.events.schema check shared/schemas
	$(UV) run --frozen python tools/env_example.py --check

.PHONY: schemas
schemas: install ## Re-export the event contracts as JSON Schema into shared/schemas
	$(UV) run --frozen python -m fraudstream_shared.events.schema write shared/schemas

.PHONY: clean
clean: ## Stop the local infra and delete its data, the venv and caches
	-$(STACK) down
	rm -rf .local .venv .pytest_cache .mypy_cache .ruff_cache

.PHONY: env-example
env-example: install ## Regenerate .env.example from the settings classes
	$(UV) run --frozen python tools/env_example.py --write
