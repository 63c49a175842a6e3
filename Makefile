# Bussola: `make run` starts everything on the embedded defaults; `make test` runs every check.
SHELL := /bin/bash
.DEFAULT_GOAL := help

VENV       := .venv
RASA_VENV  := .venv-rasa
PY         := $(VENV)/bin/python
RASA_PORT  ?= 5005
export RASA_TELEMETRY_ENABLED := false
export PYTHONDONTWRITEBYTECODE := 1

.PHONY: compose-check migration help deps setup checks nlu-model run test lint typecheck audit pytest nlu-train nlu-serve nlu-eval nlu-validate browser prism bench clean

help:
	@echo "make run       start Rasa (training a model if needed) and the app on http://127.0.0.1:8000"
	@echo "make test      ruff, mypy, audit (pip-audit, bandit) and the whole test suite"
	@echo "make nlu-train | nlu-serve | nlu-eval | bench"

$(VENV)/.stamp: pyproject.toml
	@test -x $(PY) || $$(scripts/find-python.sh 3.11) -m venv $(VENV)
	$(PY) -m pip install -q --upgrade pip setuptools
	$(PY) -m pip install -q -e '.[dev]'
	@touch $@

$(RASA_VENV)/.stamp: nlu/requirements-rasa.txt
	@test -x $(RASA_VENV)/bin/python || $$(scripts/find-python.sh 3.10) -m venv $(RASA_VENV)
	$(RASA_VENV)/bin/python -m pip install -q --upgrade pip 'setuptools<70' wheel
	$(RASA_VENV)/bin/python -m pip install -q -r nlu/requirements-rasa.txt
	@touch $@

deps: $(VENV)/.stamp $(RASA_VENV)/.stamp

# Browser tests need Debian's Chromium; install it when missing and we may (root), always in CI.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then (apt-get update -q && apt-get install -y -q chromium) >/dev/null; \
	  else echo "chromium missing: browser tests will be skipped (apt-get install chromium)"; fi; }

# Stoplight Prism mocks the official HSDS OpenAPI in a contract test of catalog_client.
prism: package-lock.json
	@test -x node_modules/.bin/prism || npm ci --no-audit --no-fund --silent >/dev/null

# docker-compose v1 (Python) validates docker-compose.yml without a Docker engine; it needs PyYAML 5.
COMPOSE_VENV := .venv-compose
$(COMPOSE_VENV)/.stamp:
	@test -x $(COMPOSE_VENV)/bin/python || $$(scripts/find-python.sh 3.11) -m venv $(COMPOSE_VENV)
	$(COMPOSE_VENV)/bin/python -m pip install -q 'cython<3' wheel
	$(COMPOSE_VENV)/bin/python -m pip install -q --no-build-isolation 'PyYAML==5.4.1'
	$(COMPOSE_VENV)/bin/python -m pip install -q 'docker-compose==1.29.2'
	@touch $@

compose-check: $(COMPOSE_VENV)/.stamp
	$(COMPOSE_VENV)/bin/docker-compose --env-file .env.example config -q

nlu-train: deps
	$(PY) -m nlu.manage train

nlu-serve: deps
	$(PY) -m nlu.manage serve --port $(RASA_PORT)

nlu-eval: deps
	$(PY) -m nlu.manage eval

nlu-validate: deps
	$(PY) -m nlu.manage validate

run: deps
	$(PY) -m nlu.manage ensure --port $(RASA_PORT) --background
	RASA_URL=$${RASA_URL:-http://127.0.0.1:$(RASA_PORT)} $(VENV)/bin/bussola serve

lint: $(VENV)/.stamp
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: $(VENV)/.stamp
	$(VENV)/bin/mypy

pytest: setup nlu-model
	$(PY) -m pytest -q -ra --durations=15

# Everything the tests need, installed side by side: the installs wait on the network and on pip,
# not on each other (95 s here on a fresh clone with pip's cache warm).
setup:
	@$(MAKE) --no-print-directory -j4 --output-sync=target deps browser prism $(COMPOSE_VENV)/.stamp

# The model for the current config and data (a no-op when it is there).
nlu-model: deps
	$(PY) -m nlu.manage train

# Known vulnerabilities in the installed packages (pip-audit; see scripts/audit-deps.py for what it
# says when no vulnerability service answers), and bandit on our code with the skips of bandit.yml.
audit: $(VENV)/.stamp
	$(VENV)/bin/bandit -q -c bandit.yml -r bot nlu catalog_client handoff
	$(PY) scripts/audit-deps.py

checks: lint typecheck audit

# Training the model (CPU) runs while the static checks run (mostly waiting on disk and network);
# then the suite.
test: setup
	@$(MAKE) --no-print-directory -j2 --output-sync=target nlu-model checks
	@$(MAKE) --no-print-directory pytest

bench: deps
	$(PY) bench/nlu.py && $(PY) bench/catalog.py && $(PY) bench/chat.py && $(PY) bench/handoff.py

clean:
	rm -rf $(VENV) $(RASA_VENV) nlu/models/* .mypy_cache .ruff_cache .pytest_cache

migration: $(VENV)/.stamp
	scripts/regen-initial-migration.sh
