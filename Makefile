# optionsdesk: every entry point. `make demo` and `make test` are the two a newcomer needs.
SHELL := /bin/bash
PYTHON ?= python3.11
VENV ?= .venv
PY := $(VENV)/bin/python
BIND ?= 127.0.0.1:8000
PORT ?= 8000
SIM_PORT ?= 8082
PYTEST_ARGS ?=

.PHONY: install demo test test-fast check bench web worker worker-agent worker-research beat sim bot migrate clean

# One install command for make, CI and the Dockerfile: the project with its dev and bench extras.
$(VENV)/.installed: pyproject.toml
	@command -v $(PYTHON) >/dev/null || { echo "needs $(PYTHON) (set PYTHON=...)"; exit 1; }
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --upgrade pip
	$(PY) -m pip install --quiet -e '.[dev,bench]'
	touch $@

install: $(VENV)/.installed

demo: install
	$(PY) manage.py demo --port $(PORT) --sim-port $(SIM_PORT)

test: install
	$(PY) -m pytest $(PYTEST_ARGS)

# The pure domain tests (no database, no network, no browser) with fewer property examples:
# a quick inner loop while editing trading/domain, backtests' metrics and the steward's rules.
FAST_TESTS := $(addprefix tests/trading/test_,black76.py candidates.py chain.py chat_domain.py \
	context.py decision_log.py fees.py health_guard.py instruments.py measures.py params.py \
	proposal.py risk.py source_compare.py) tests/backtests/test_metrics.py tests/steward/test_rules.py

# Most of a run was imports: Django and the plugins these tests never use stay unloaded (so the
# tests also prove they need no Django), and compiled bytecode is cached under var/pycache even
# where the environment sets PYTHONDONTWRITEBYTECODE.
FAST_PLUGINS := $(addprefix -p no:,django faker schemathesis playwright respx xdist \
	xdist.looponfail anyio asyncio time_machine pytest_cov) \
	-W "ignore:Unknown config option:pytest.PytestConfigWarning"

test-fast: install
	PYTHONDONTWRITEBYTECODE= PYTHONPYCACHEPREFIX=$(CURDIR)/var/pycache HYPOTHESIS_PROFILE=fast \
		$(PY) -m pytest -q $(FAST_PLUGINS) $(FAST_TESTS) $(PYTEST_ARGS)

check: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .
	$(VENV)/bin/mypy .
	$(VENV)/bin/lint-imports
	$(PY) manage.py check --fail-level WARNING
	DJANGO_ENV=production SECRET_KEY=$$($(PY) -c 'import secrets; print(secrets.token_urlsafe(64))') \
		ALLOWED_HOSTS=desk.example.com $(PY) manage.py check --deploy --fail-level WARNING
	$(PY) manage.py makemigrations --check --dry-run
	$(PY) manage.py spectacular --validate --fail-on-warn --file /dev/null

bench: install
	@set -e; for script in bench/*.py; do echo "== $$script"; $(PY) $$script; done

migrate: install
	$(PY) manage.py migrate

# Long-running processes (docker-compose.yml runs the same commands; tests/optionsdesk/test_compose.py).
web:
	$(VENV)/bin/gunicorn optionsdesk.wsgi --bind $(BIND) --workers 2 --worker-class gthread --threads 2 --access-logfile -

# Two workers, one per queue (optionsdesk/celery.py): `make worker` runs both.
worker:
	@trap 'kill 0' INT TERM; $(MAKE) --no-print-directory worker-agent & $(MAKE) --no-print-directory worker-research & wait

worker-agent:
	$(VENV)/bin/celery -A optionsdesk worker -Q agent -n agent@%h -l info --concurrency 2

worker-research:
	$(VENV)/bin/celery -A optionsdesk worker -Q research,celery -n research@%h -l info --concurrency 2

beat:
	$(VENV)/bin/celery -A optionsdesk beat -l info --scheduler django_celery_beat.schedulers:DatabaseScheduler

sim:
	$(PY) manage.py run_exchange_sim --port $(SIM_PORT) --seed 42 --speed 60

bot:
	$(PY) manage.py run_reviewbot

clean:
	rm -rf var/celery var/static .mypy_cache .ruff_cache
