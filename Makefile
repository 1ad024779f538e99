# Relay. `make run` serves the demo; `make test` runs the whole test suite.
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
ADDR ?= 127.0.0.1:8000
PYTEST_ARGS ?=

.PHONY: run test test-services lint format bench bench-serve wrk worker beat install chromium clean

$(PY):
	@PYTHON=$$(scripts/find-python) || exit 1; \
	echo "Creating $(VENV) with $$PYTHON"; \
	"$$PYTHON" -m venv $(VENV)

$(STAMP): $(PY) requirements.lock pyproject.toml
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.lock
	@touch $(STAMP)

install: $(STAMP)

run: install
	$(PY) manage.py migrate --noinput
	$(PY) manage.py seed_demo
	@echo ""
	@echo "  Relay is at http://$(ADDR)/"
	@echo "  Demo logins (password: relay-demo):"
	@echo "    ada (Data Science lead), grace (reviewer), alan, katherine (members)"
	@echo "    linus (Platform lead), barbara (reviewer), guido, ken (members)"
	@echo "    ada and linus edit their team's workflows in the Workflow admin at /team-admin/"
	@echo "    admin (superuser, Django admin at /admin/)"
	@echo ""
	$(PY) manage.py runserver $(ADDR)

# Debian's chromium drives the browser tests (never a downloaded browser build).
chromium:
	@command -v chromium >/dev/null 2>&1 || [ -x /usr/bin/chromium ] || { \
	  echo "Installing Debian's chromium for the browser tests"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

# Debian's wrk loads the pages in bench/serve.py.
wrk:
	@command -v wrk >/dev/null 2>&1 || { \
	  echo "Installing Debian's wrk for bench/serve.py"; \
	  if [ "$$(id -u)" = 0 ]; then SUDO=""; else SUDO=sudo; fi; \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq wrk >/dev/null; }

test: install chromium
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -n 2 $(PYTEST_ARGS)

# With DATABASE_URL on PostgreSQL (.ci/run sets it): the whole suite again on PostgreSQL with
# the PostgreSQL-only tests (races, plans; each xdist worker has its own database), then the
# tests that need Redis and a Celery worker, one at a time since they share the broker and
# worker processes. The browser tests ran against SQLite in `make test`:
# they drive the same views and services that the rest of the suite checks on PostgreSQL, and
# running them twice cost a minute of CI's ten.
test-services: install chromium
	$(PY) -m pytest -n 2 -m "not redis" --ignore=tests/e2e $(PYTEST_ARGS)
	$(PY) -m pytest -m redis $(PYTEST_ARGS)

lint: install
	$(PY) -m ruff format --check .
	$(PY) -m ruff check .

format: install
	$(PY) -m ruff format .
	$(PY) -m ruff check --fix .

bench: install
	@for script in bench/assignment.py bench/board.py bench/hooks.py bench/notifications.py bench/workflows_engine.py; do \
	  echo "== $$script"; $(PY) $$script || exit 1; done

# Every page under gunicorn + wrk next to the floor (../shared/floor); DATABASE_URL picks
# PostgreSQL, BENCH_SECONDS the length of each load (default 8).
bench-serve: install wrk
	$(PY) bench/serve.py

worker: install
	$(VENV)/bin/celery -A workflow_site worker --loglevel=info

beat: install
	$(VENV)/bin/celery -A workflow_site beat --loglevel=info

clean:
	rm -rf $(VENV) .pytest_cache .ruff_cache staticfiles
