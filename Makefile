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

.PHONY: help venv tools demo test test-sdk explore test-fast lint format build deploy bench clean lock browser browser-deps \
	iam-oracle iam-report iam-drop

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

# Venvs are made with uv (pinned in .uv, bootstrapped with pip): a fresh .venv in ~10 s instead of ~40 s.
# --seed puts pip in them too: `make build` (sam build) installs the layer with the venv's pip.
UV := .uv/bin/uv
UV_VERSION := 0.13.9

$(UV):
	$(PYTHON) -m venv .uv
	.uv/bin/pip install --quiet --disable-pip-version-check uv==$(UV_VERSION)

$(BIN)/.installed: tests/requirements.txt pyproject.toml | $(UV)
	$(UV) venv --quiet --seed --allow-existing --python $(PYTHON) $(VENV)
	$(UV) pip install --quiet --python $(BIN)/python -r tests/requirements.txt
	$(UV) pip install --quiet --python $(BIN)/python --no-deps -e .
	touch $@

$(TOOLS)/bin/.installed: tests/requirements-tools.txt | $(UV)
	$(UV) venv --quiet --seed --allow-existing --python $(PYTHON) $(TOOLS)
	$(UV) pip install --quiet --python $(TOOLS)/bin/python -r tests/requirements-tools.txt
	touch $@

SDK := .sdk

$(SDK)/bin/.installed: tests/requirements-sdk.txt | $(UV)
	$(UV) venv --quiet --allow-existing --python $(PYTHON) $(SDK)
	$(UV) pip install --quiet --python $(SDK)/bin/python -r tests/requirements-sdk.txt
	touch $@

venv: $(BIN)/.installed ## create the app venv (.venv)

tools: $(TOOLS)/bin/.installed ## create the SAM CLI venv (.tools)

demo: venv ## run the whole system locally on the embedded sandbox
	$(BIN)/steward local demo

# pytest-xdist: one worker per core; worksteal evens out the few long reliability tests.
JOBS ?= auto

test: ## set up everything the tests need (venvs, Debian's Chromium), then run every test on all cores
	@start=$$(date +%s); \
	$(MAKE) --no-print-directory venv tools browser $(ORACLE)/node_modules/.installed || exit $$?; \
	ready=$$(date +%s); \
	STEWARD_SAM=$(abspath $(TOOLS)/bin/sam) $(BIN)/python -m pytest -n $(JOBS) --dist worksteal $(PYTEST_ARGS); rc=$$?; \
	echo "make test: set-up $$((ready - start)) s, tests $$(( $$(date +%s) - ready )) s wall on $$(nproc) cores (pytest -n $(JOBS))"; \
	exit $$rc

browser: ## Debian's chromium + chromium-driver for the browser tests, installed when missing (root or sudo -n)
	@if [ "$${STEWARD_SKIP_BROWSER:-}" = 1 ] || { command -v chromium && command -v chromedriver; } >/dev/null 2>&1; then \
	  exit 0; \
	fi; \
	hint="  sudo apt-get install -y --no-install-recommends chromium chromium-driver"; \
	if ! command -v apt-get >/dev/null 2>&1; then \
	  echo "make test: the browser tests need Chromium and ChromeDriver, and this is not a Debian-like system."; \
	  echo "Install both (STEWARD_CHROMIUM / STEWARD_CHROMEDRIVER may point at them), or set STEWARD_SKIP_BROWSER=1."; \
	  exit 1; \
	fi; \
	if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	else \
	  echo "make test: the browser tests need Debian's chromium and chromium-driver; install them once with:"; \
	  echo "$$hint"; \
	  exit 1; \
	fi; \
	echo "installing Debian's chromium and chromium-driver for the browser tests (apt-get) ..."; \
	$$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends chromium chromium-driver >/dev/null \
	  || { echo "make test: apt-get could not install them; run:"; echo "$$hint"; exit 1; }

browser-deps: browser ## (old name of `make browser`)

# The IAM oracle (tests/unit/test_iam_oracle.py): an npm IAM simulator, test-only, pinned by its lockfile.
ORACLE := tests/iam_oracle

$(ORACLE)/node_modules/.installed: $(ORACLE)/package.json $(ORACLE)/package-lock.json
	@if [ "$${STEWARD_SKIP_IAM_ORACLE:-}" = 1 ]; then exit 0; fi; \
	if ! command -v npm >/dev/null 2>&1; then \
	  hint="  sudo apt-get install -y --no-install-recommends nodejs npm   (or STEWARD_SKIP_IAM_ORACLE=1)"; \
	  if [ "$$(id -u)" -eq 0 ]; then sudo=""; \
	  elif command -v sudo >/dev/null 2>&1 && sudo -n true 2>/dev/null; then sudo="sudo -n"; \
	  else sudo=none; fi; \
	  if [ "$$sudo" = none ] || ! command -v apt-get >/dev/null 2>&1; then \
	    echo "make: the IAM oracle test needs node and npm; install them once with:"; echo "$$hint"; exit 1; \
	  fi; \
	  echo "installing Debian's nodejs and npm for the IAM oracle test (apt-get) ..."; \
	  $$sudo apt-get update -qq && DEBIAN_FRONTEND=noninteractive $$sudo apt-get install -y -qq --no-install-recommends nodejs npm >/dev/null \
	    || { echo "make: apt-get could not install them; run:"; echo "$$hint"; exit 1; }; \
	fi; \
	cd $(ORACLE) && npm ci --no-audit --no-fund --loglevel=error && touch node_modules/.installed

iam-report: venv ## IAM: per function, what it is granted and what the sandbox scenarios used (VERBOSE=1: every call)
	$(BIN)/python -W ignore::RuntimeWarning -m sandbox.iam report $(if $(VERBOSE),--verbose)

iam-drop: venv ## IAM: each statement a function needs dropped in turn; every run must fail with AccessDenied (minutes)
	STEWARD_IAM_DROP_SAMPLE=all $(BIN)/python -m pytest -q -p no:randomly -s tests/sandbox/test_iam_drop.py

iam-oracle: venv $(ORACLE)/node_modules/.installed ## the sandbox's IAM evaluator against an IAM simulator: CASES=20000 generated cases, SEED=18
	STEWARD_IAM_ORACLE_CASES=$${CASES:-20000} STEWARD_IAM_ORACLE_SEED=$${SEED:-18} \
	  $(BIN)/python -m pytest -q -p no:randomly -s tests/unit/test_iam_oracle.py

test-sdk: venv $(SDK)/bin/.installed ## the official SageMaker SDK (own venv, .sdk) as a client of `steward local serve --serve-aws`
	$(SDK)/bin/python -W ignore::SyntaxWarning tests/sdk/run_sdk_flow.py

explore: venv ## every interleaving of the concurrency scenarios' AWS calls (slow; make test runs a seeded sample)
	STEWARD_EXPLORE=all $(BIN)/python -m pytest -q -p no:randomly -n $(JOBS) tests/reliability/test_interleavings*.py

test-fast: venv ## unit + integration only (seconds: the inner loop)
	$(BIN)/python -m pytest -n $(JOBS) tests/unit tests/integration -q

lint: venv tools ## ruff, mypy on the core, import-linter's layering contracts (.importlinter), cfn-lint, sam validate --lint
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-logo
	$(BIN)/cfn-lint template.yaml workload-account.yaml
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
	  pytest pytest-xdist hypothesis ruff mypy import-linter jinja2 selenium requests \
	  standardwebhooks slack_sdk openapi-spec-validator schemathesis
	/tmp/steward-lock/bin/pip freeze > tests/requirements.txt

clean: ## remove venvs and build output
	rm -rf $(VENV) $(TOOLS) $(SDK) .uv .aws-sam .pytest_cache .mypy_cache .ruff_cache
