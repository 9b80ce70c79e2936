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

# The scorer's compiled feature store (services/scorer/native, Rust) is built when
# cargo is found (on PATH or where rustup puts it); without it the scorer runs the
# pure-Python store: the same features, about twice the scorer's CPU per event.
CARGO := $(or $(shell command -v cargo 2>/dev/null),$(wildcard $(HOME)/.cargo/bin/cargo))
ifneq ($(CARGO),)
export PATH := $(dir $(CARGO)):$(PATH)
# The parity tests fail (rather than skip) when the build was expected but is missing.
export FRAUDSTREAM_REQUIRE_NATIVE := 1
NATIVE_SYNC :=
else
NATIVE_SYNC := --no-install-package scorer-native
endif

# The AWS CDK toolchain (jsii, aws-cdk-lib, cdk-nag, cfn-lint, checkov) lives in
# its own venv, pinned by infra/aws/requirements.txt, away from the services' lock.
CDK_VENV := .local/cdkvenv
CDK_PY := $(CDK_VENV)/bin/python
CDK_STAMP := $(CDK_VENV)/.installed

$(CDK_STAMP): infra/aws/requirements.txt
	@command -v node >/dev/null || { echo "the AWS CDK needs Node.js 18+ on PATH" >&2; exit 1; }
	$(PYTHON) -m venv $(CDK_VENV)
	$(CDK_VENV)/bin/pip install --quiet --disable-pip-version-check -r infra/aws/requirements.txt
	touch $(CDK_STAMP)

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
	@$(if $(CARGO),true,echo "note: no Rust toolchain (cargo): the scorer will use its pure-Python \
	  feature store (same features, more CPU); https://rustup.rs, then make install" >&2)
	$(UV) sync --frozen --all-packages --all-extras $(NATIVE_SYNC)

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

# The archiver's lake (ARCHIVER_LAKE_DIR of make run) and where the report goes.
LAKE ?= .local/lake
REPORT ?= .local/report/report.html

.PHONY: report
report: install ## HTML report with charts over the archiver's Parquet lake (after make run); LAKE= REPORT=
	$(UV) run --frozen python -m archiver.report --lake $(LAKE) --out $(REPORT)

.PHONY: up
up: ## Run the same system with Docker Compose (needs a Docker engine)
	@docker info >/dev/null 2>&1 || { echo "no Docker engine answers: use 'make run' instead" >&2; exit 1; }
	docker compose up --build

.PHONY: test
test: install $(CDK_STAMP) ## Run unit, infrastructure, integration and end-to-end tests (starts/stops the local infra)
	@rm -f .local/started-by-test
	@mkdir -p .local
	$(UV) run --frozen pytest tests/unit --ignore=tests/unit/test_infra_aws $(PYTEST_ARGS)
	$(if $(CARGO),cd services/scorer/native && cargo test --release --quiet)
	$(CDK_PY) -m pytest tests/unit/test_infra_aws -p no:cacheprovider
	$(STACK) up --if-needed-record .local/started-by-test
	@status=0; \
	  $(UV) run --frozen pytest tests/integration tests/e2e $(PYTEST_ARGS) || status=$$?; \
	  $(STACK) down --recorded .local/started-by-test || true; \
	  exit $$status

# The fault tests (kill -9, broker restart, outages, SIGTERM) at soak size. In make
# test the central scorer scenario runs at FAULT_EVENTS' default (20,000) and the
# other fault tests at 2,000-3,000 (see tests/e2e/faults.py).
SOAK_EVENTS ?= 100000
SOAK_TESTS := tests/e2e/test_scorer_recovery.py $(wildcard tests/e2e/test_faults_*.py)

.PHONY: soak
soak: install ## Run every e2e fault test at 100,000 events (SOAK_EVENTS=…; starts/stops the local infra)
	@rm -f .local/started-by-soak
	@mkdir -p .local
	$(STACK) up --if-needed-record .local/started-by-soak
	@status=0; \
	  time FAULT_EVENTS=$(SOAK_EVENTS) $(UV) run --frozen pytest $(SOAK_TESTS) -s --durations=0 \
	    $(PYTEST_ARGS) || status=$$?; \
	  $(STACK) down --recorded .local/started-by-soak || true; \
	  exit $$status

.PHONY: test-unit
test-unit: install ## Run the unit tests only (no servers needed)
	$(UV) run --frozen pytest tests/unit --ignore=tests/unit/test_infra_aws $(PYTEST_ARGS)

.PHONY: lint
lint: install ## Lint (ruff), type-check (mypy, strict on shared/) and check schema drift
	$(UV) run --frozen ruff check .
	$(UV) run --frozen mypy shared/fraudstream_shared services
	$(UV) run --frozen python -m fraudstream_shared.events.schema check shared/schemas
	$(UV) run --frozen python tools/env_example.py --check
	@# The compiled feature store: rustfmt and clippy, where rustup installed them.
	@if [ -n "$(CARGO)" ] && cargo clippy --version >/dev/null 2>&1; then \
	  cd services/scorer/native && cargo fmt --check && cargo clippy --release --quiet -- -D warnings; fi

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

.PHONY: synth
synth: $(CDK_STAMP) ## Synthesize the AWS stacks (dev and prod, cdk-nag checked) into infra/aws/cdk.out
	cd infra/aws && ../../$(CDK_PY) app.py

.PHONY: deploy
deploy: synth ## Deploy to AWS: make deploy AWS_ENV=dev EMAIL=you@example.com TAG=<image tag>
	cd infra/aws && npx aws-cdk@2 deploy fraudstream-$(AWS_ENV) --app "../../$(CDK_PY) app.py" \
	  -c env=$(AWS_ENV) -c fraudstream:$(AWS_ENV):image_tag=$(TAG) --parameters YourEmail=$(EMAIL)

.PHONY: test-infra
test-infra: $(CDK_STAMP) ## Run the AWS infrastructure tests (CDK assertions, cdk-nag, cfn-lint, checkov)
	$(CDK_PY) -m pytest tests/unit/test_infra_aws -p no:cacheprovider

# --- Model training and evaluation (scorer) -----------------------------------
# DATA/LABELS: your own events (.parquet/.jsonl/.csv, transactions contract) and
# labels CSV (event_id,label[,labelled_at]); empty = a simulated default.
# Protocol: TRAIN_START (YYYY-MM-DD), TRAIN_DAYS, DELAY_DAYS, TEST_DAYS; FOLDS
# (evaluate only) = weekly folds, averaged. PARTITIONS: partitions of the
# transactions topic the scorers read (merchant/IP aggregates are per partition);
# empty = the services' KAFKA_TOPIC_PARTITIONS default (6).
DATA ?=
LABELS ?=
TRAIN_START ?=
TRAIN_DAYS ?=
DELAY_DAYS ?= 7
TEST_DAYS ?= 7
FOLDS ?=
PARTITIONS ?=
SIM := $(UV) run --frozen python -m producer.simulate
HANDBOOK_DATA := .local/data/handbook-183d.parquet
HANDBOOK_LABELS := .local/data/handbook-183d-labels.csv
FRAUDSTREAM_DATA := .local/data/fraudstream-75d.parquet
FRAUDSTREAM_LABELS := .local/data/fraudstream-75d-labels.csv

$(HANDBOOK_DATA):
	$(SIM) --preset handbook --days 183 --out $@ --labels $(HANDBOOK_LABELS)

$(FRAUDSTREAM_DATA):
	$(SIM) --preset fraudstream --days 75 --start 2026-08-01 --out $@ --labels $(FRAUDSTREAM_LABELS)

.PHONY: evaluate
evaluate: install ## Backtest (default: Handbook data, its 4 weekly folds) → reports/evaluation; DATA= LABELS= FOLDS= TRAIN_START= PARTITIONS=…
	@if [ -z "$(DATA)" ]; then $(MAKE) --no-print-directory $(HANDBOOK_DATA); fi
	rm -rf .local/evaluate/models
	time $(UV) run --frozen python -m scorer.evaluation \
	  --data $(or $(DATA),$(HANDBOOK_DATA)) --labels $(or $(LABELS),$(HANDBOOK_LABELS)) \
	  $(if $(TRAIN_START),--train-start $(TRAIN_START),$(if $(DATA),,--train-start 2018-07-25)) \
	  --train-days $(or $(TRAIN_DAYS),7) --delay-days $(DELAY_DAYS) --test-days $(TEST_DAYS) \
	  --folds $(or $(FOLDS),$(if $(DATA),1,4)) $(if $(PARTITIONS),--partitions $(PARTITIONS)) \
	  --train-into .local/evaluate/models --cache .local/cache --out reports/evaluation

.PHONY: train
train: install ## Train the shipped model (default: 75 simulated fraudstream days, 28-day training window); DATA= LABELS= TRAIN_START= PARTITIONS=…
	@if [ -z "$(DATA)" ]; then $(MAKE) --no-print-directory $(FRAUDSTREAM_DATA); fi
	time $(UV) run --frozen python -m scorer.model.train \
	  --data $(or $(DATA),$(FRAUDSTREAM_DATA)) --labels $(or $(LABELS),$(FRAUDSTREAM_LABELS)) \
	  $(if $(TRAIN_START),--train-start $(TRAIN_START),$(if $(DATA),,--train-start 2026-08-01)) \
	  --train-days $(or $(TRAIN_DAYS),$(if $(DATA),7,28)) --delay-days $(DELAY_DAYS) \
	  --test-days $(TEST_DAYS) $(if $(PARTITIONS),--partitions $(PARTITIONS)) \
	  --out services/scorer/scorer/data/models

# --- Benchmarks (bench/; not part of make test) --------------------------------
# BENCH_RATES: offered loads in tx/s; BENCH_STEP_SECONDS: each step of the ladder;
# BENCH_SUSTAIN_SECONDS: an extra exactly-once run at 5,000 tx/s (600 = the target's
# 10 minutes; 0 = none); BENCH_ARGS: more options (python -m bench run --help).
BENCH_RATES ?= 100,250,500,1000,2500,5000,7500,10000
BENCH_STEP_SECONDS ?= 30
BENCH_SUSTAIN_SECONDS ?= 0
BENCH_ARGS ?=

.PHONY: bench
bench: install ## Benchmark the pipeline on the local stack (~24 min) → bench/results/; BENCH_RATES= BENCH_STEP_SECONDS= BENCH_SUSTAIN_SECONDS=
	@rm -f .local/started-by-bench
	@mkdir -p .local
	$(STACK) up --if-needed-record .local/started-by-bench
	@status=0; \
	  $(UV) run --frozen python -m bench run --rates $(BENCH_RATES) \
	    --step-seconds $(BENCH_STEP_SECONDS) --sustain-seconds $(BENCH_SUSTAIN_SECONDS) \
	    $(BENCH_ARGS) || status=$$?; \
	  $(STACK) down --recorded .local/started-by-bench || true; \
	  exit $$status
