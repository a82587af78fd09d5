# QYQuant backend. The two commands that matter: `make dev` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
FLASK := FLASK_APP=backend.app:create_app $(PY) -m flask
STAMP := $(VENV)/.installed-$(shell cat requirements.txt requirements-dev.txt | sha256sum | cut -c1-16)

.PHONY: dev test faults fuzz venv fmt lint typecheck test-domain migrate revision worker beat openapi contract docs-check help clean

$(STAMP): requirements.txt requirements-dev.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements-dev.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv and install requirements-dev.txt (runtime + tests + tools)

dev: venv ## Start Postgres/Redis (embedded if DATABASE_URL/REDIS_URL are unset), migrate, seed, API+worker+beat
	$(PY) scripts/dev.py

test: venv ## Run the test suite (uses DATABASE_URL/REDIS_URL, else loopback servers, else embedded ones)
	$(PY) scripts/check_domain_imports.py
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

faults: venv ## Fault tests: kill/freeze/restart throwaway Redis, Postgres and workers under a live API (~3 min)
	$(PY) -m pytest -q -p no:cacheprovider -m faults tests/faults $(PYTEST_ARGS)

fuzz: venv ## Schemathesis with every check against a throwaway stack: make fuzz [FUZZ_ARGS=--quick]
	$(PY) scripts/fuzz_api.py $(FUZZ_ARGS)

test-domain: venv ## Run only the pure-core tests (no database, no Redis)
	$(PY) -m pytest -q -p no:cacheprovider tests/domain $(PYTEST_ARGS)

fmt: venv ## Format the tree and apply ruff's safe fixes
	$(VENV)/bin/ruff format .
	$(VENV)/bin/ruff check --fix .

lint: venv ## ruff (lint + format check), the module graph contract, mypy, the domain purity check
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/lint-imports
	$(VENV)/bin/mypy
	$(PY) scripts/check_domain_imports.py

typecheck: venv ## mypy: strict on backend/core and backend/domain, checked everywhere else
	$(VENV)/bin/mypy

migrate: venv ## Upgrade the database in DATABASE_URL to every module branch's head
	$(FLASK) db upgrade heads

revision: venv ## New migration on a module branch: make revision m="add x" branch=bots [autogenerate=1]
	@test -n "$(m)" -a -n "$(branch)" || { echo 'usage: make revision m="what changes" branch=<module> [autogenerate=1]'; exit 2; }
	$(FLASK) db revision $(if $(autogenerate),--autogenerate) --head $(branch)@head -m "$(m)"

worker: venv ## Run a Celery worker on every queue (uses DATABASE_URL/REDIS_URL)
	$(VENV)/bin/celery -A backend.celery_app worker -Q default,backtests,sweeps,workflows,bots,webhooks --loglevel INFO

beat: venv ## Run Celery beat, the one scheduler (exactly one per deployment)
	mkdir -p .run
	$(VENV)/bin/celery -A backend.celery_app beat --loglevel INFO --schedule .run/celerybeat-schedule

openapi: venv ## Write docs/openapi.json from the running app's spec
	$(PY) scripts/export_openapi.py docs/openapi.json

contract: venv ## Regenerate the endpoint table of docs/api-contract.md from the OpenAPI spec
	$(PY) scripts/gen_api_contract.py

docs-check: venv ## Render /api/docs in headless Chromium and save a screenshot
	$(PY) scripts/check_docs_page.py

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | sed 's/:.*## /\t/'

clean:
	rm -rf .run .pytest_cache .mypy_cache .ruff_cache
