# Steward — one Makefile is the interface. `make demo` and `make test` work on a fresh clone.
SHELL := /bin/bash
.DEFAULT_GOAL := help

# The Lambda runtime is python3.12: prefer a matching interpreter (pyenv's or the system's), else python3.
PYTHON ?= $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12) $(shell command -v python3))
PY312_BIN := $(dir $(firstword $(wildcard $(HOME)/.pyenv/versions/3.12*/bin/python3.12 /usr/local/bin/python3.12 /usr/bin/python3.12)))
VENV := .venv
TOOLS := .tools
BIN := $(VENV)/bin
ENV ?= dev
REGION ?= us-east-1

export SAM_CLI_TELEMETRY := 0
export AWS_DEFAULT_REGION ?= $(REGION)

.PHONY: help venv tools demo test test-fast lint format build deploy bench clean lock browser-deps

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

$(BIN)/.installed: tests/requirements.txt pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip
	$(BIN)/pip install --quiet -r tests/requirements.txt
	$(BIN)/pip install --quiet --no-deps -e .
	touch $@

$(TOOLS)/bin/.installed: tests/requirements-tools.txt
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install --quiet --upgrade pip
	$(TOOLS)/bin/pip install --quiet -r tests/requirements-tools.txt
	touch $@

venv: $(BIN)/.installed ## create the app venv (.venv)

tools: $(TOOLS)/bin/.installed ## create the SAM CLI venv (.tools)

demo: venv ## run the whole system locally on the embedded sandbox
	$(BIN)/steward local demo

test: venv tools ## set up and run every test (unit, integration, infra, sandbox, e2e)
	STEWARD_SAM=$(abspath $(TOOLS)/bin/sam) $(BIN)/python -m pytest

browser-deps: ## Debian's chromium + chromium-driver for the browser tests (apt-get; sudo when not root)
	@if command -v chromium >/dev/null && command -v chromedriver >/dev/null; then \
	  echo "chromium and chromedriver are installed"; \
	else \
	  SUDO=$$([ "$$(id -u)" -eq 0 ] || echo sudo); \
	  $$SUDO apt-get update && $$SUDO apt-get install -y --no-install-recommends chromium chromium-driver; \
	fi

test-fast: venv ## unit + integration only
	$(BIN)/python -m pytest tests/unit tests/integration -q

lint: venv tools ## ruff, mypy on the core, cfn-lint, sam validate --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/cfn-lint template.yaml
	$(TOOLS)/bin/sam validate --lint --region $(REGION)

format: venv ## apply ruff fixes and formatting
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

build: venv tools ## sam build (needs python3.12 on PATH, found via pyenv when present)
	PATH="$(PY312_BIN):$$PATH" PIP="$(abspath $(BIN))/pip" $(TOOLS)/bin/sam build

deploy: build ## sam deploy --config-env $(ENV)
	$(TOOLS)/bin/sam deploy --config-env $(ENV)

bench: venv ## benchmarks, ratios against baselines measured in the same run
	$(BIN)/python -m tests.bench

lock: ## re-pin tests/requirements.txt from a fresh resolve
	rm -rf /tmp/steward-lock && $(PYTHON) -m venv /tmp/steward-lock
	/tmp/steward-lock/bin/pip install --quiet "aws-lambda-powertools[tracer,parser,validation]" boto3 pydantic pydantic-settings \
	  "moto[server,dynamodb,sqs,events,sagemaker,secretsmanager,ssm,s3,sesv2,sns]" aws-sam-translator cfn-lint pyyaml \
	  pytest hypothesis ruff mypy jinja2 selenium requests
	/tmp/steward-lock/bin/pip freeze > tests/requirements.txt

clean: ## remove venvs and build output
	rm -rf $(VENV) $(TOOLS) .aws-sam .pytest_cache .mypy_cache .ruff_cache
