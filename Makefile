# QYQuant backend. The two commands that matter: `make dev` and `make test`.
PYTHON ?= python3
VENV ?= .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed-$(shell sha256sum requirements.txt | cut -c1-16)

.PHONY: dev test venv lint openapi contract docs-check clean

$(STAMP): requirements.txt
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -r requirements.txt
	rm -f $(VENV)/.installed-* && touch $(STAMP)

venv: $(STAMP) ## Create the virtualenv and install requirements.txt

dev: venv ## Start Postgres/Redis (embedded if DATABASE_URL/REDIS_URL are unset), migrate, seed, API+worker+beat
	$(PY) scripts/dev.py

test: venv ## Run the test suite (uses DATABASE_URL/REDIS_URL, else loopback servers, else embedded ones)
	$(PY) scripts/check_domain_imports.py
	$(PY) -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

lint: venv ## Enforce that backend/domain imports only stdlib, numpy and itself
	$(PY) scripts/check_domain_imports.py

openapi: venv ## Write docs/openapi.json from the running app's spec
	$(PY) scripts/export_openapi.py docs/openapi.json

contract: venv ## Regenerate the endpoint table of docs/api-contract.md from the OpenAPI spec
	$(PY) scripts/gen_api_contract.py

docs-check: venv ## Render /api/docs in headless Chromium and save a screenshot
	$(PY) scripts/check_docs_page.py

clean:
	rm -rf .run .pytest_cache
