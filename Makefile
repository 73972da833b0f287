# Meshport: `make run` for a demo catalog at http://127.0.0.1:8000, `make test` for the suite.
VENV    ?= .venv
PYTHON  ?= python3
PY      := $(VENV)/bin/python
HOST    ?= 127.0.0.1
PORT    ?= 8000

# The one-command demo runs with debug settings; production sets MESHPORT_DEBUG=0 and
# MESHPORT_SECRET_KEY / MESHPORT_ALLOWED_HOSTS (see README).
export MESHPORT_DEBUG ?= 1

.PHONY: install run serve migrate demo test screenshots lint typecheck check bench clean

$(VENV)/.installed: pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(VENV)/bin/pip install -q -U "pip>=25.1"
	$(VENV)/bin/pip install -q -e . --group dev
	touch $@

install: $(VENV)/.installed

migrate: install
	$(PY) manage.py migrate --noinput

demo: migrate
	$(PY) manage.py ensure_demo_users
	$(PY) manage.py load_demo
	$(PY) manage.py slo_sweep --new-only
	$(PY) manage.py load_demo_governance

run: demo serve

# Web server and the huey worker together; Ctrl-C stops both.
serve: install
	@echo "Meshport on http://$(HOST):$(PORT)/ (worker: manage.py run_huey)"
	@$(PY) manage.py run_huey & WORKER=$$!; \
	trap 'kill $$WORKER 2>/dev/null' EXIT INT TERM; \
	$(PY) manage.py runserver $(HOST):$(PORT)

test: install
	$(VENV)/bin/pytest

# The README's pictures (docs/*.png), taken by the browser tests on the pages as they are.
screenshots: install
	MESHPORT_SCREENSHOTS=1 $(VENV)/bin/pytest tests/e2e -q

lint: install
	$(VENV)/bin/ruff check .
	$(VENV)/bin/ruff format --check .

typecheck: install
	$(VENV)/bin/mypy catalog lineage governance meshport

bench: install
	$(PY) -m benchmarks.ingest

clean:
	rm -rf $(VENV) var .pytest_cache .mypy_cache .ruff_cache
