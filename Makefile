# The two commands a newcomer needs: `make run` and `make test`. Nothing else has to be installed
# but a Python >= 3.12 (found by itself: PYTHON=..., then the PATH, then pyenv's versions).

SHELL := /bin/bash
VENV := .venv
BIN := $(VENV)/bin
PORT ?= 8000
PY_OK := import sys; sys.exit(0 if sys.version_info >= (3, 12) else 1)

ifndef PYTHON
PYTHON := $(shell \
  for c in python3.14 python3.13 python3.12 python3 python; do \
    p=$$(command -v $$c 2>/dev/null) && "$$p" -c '$(PY_OK)' 2>/dev/null && { echo "$$p"; exit 0; }; \
  done; \
  root=$$(pyenv root 2>/dev/null || echo "$$HOME/.pyenv"); \
  for p in $$(ls -d "$$root"/versions/3.*/bin/python3 2>/dev/null | sort -rV); do \
    "$$p" -c '$(PY_OK)' 2>/dev/null && { echo "$$p"; exit 0; }; \
  done)
endif

.PHONY: run test test-integration bench install python-check migrate demo clean

python-check:
	@if [ -z "$(PYTHON)" ]; then \
	  echo "No Python 3.12 or newer was found (Django 6.1 needs it)."; \
	  echo "Install one (for example: pyenv install 3.13) or run: make PYTHON=/path/to/python3.12 $(MAKECMDGOALS)"; \
	  exit 1; fi

$(BIN)/.installed: pyproject.toml | python-check
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c '$(PY_OK)' 2>/dev/null; then rm -rf $(VENV); fi
	@[ -x $(BIN)/python ] || "$(PYTHON)" -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	@touch $@

install: $(BIN)/.installed

migrate: install
	$(BIN)/python manage.py migrate --noinput

demo: migrate
	$(BIN)/python manage.py load_demo

# Web server, a Celery worker with its beat, all on this machine; Ctrl-C stops them all.
# With job control (set -m) the worker gets a process group of its own: the trap stops that whole
# group (worker, pool and beat) however the server ends, so no stray beat survives into the next run;
# an embedded beat may ignore TERM, so after 5 seconds the group is killed.
run: demo
	@mkdir -p var/celery/queue var/mail
	@set -m; \
	$(BIN)/celery -A credits_site worker --beat --loglevel=INFO --concurrency=2 \
	  --schedule=var/celerybeat-schedule > var/celery.log 2>&1 & \
	worker=$$!; \
	trap 'kill -TERM -- -'"$$worker"' 2>/dev/null; for i in 1 2 3 4 5 6 7 8 9 10; do kill -0 '"$$worker"' 2>/dev/null || break; sleep 0.5; done; kill -KILL -- -'"$$worker"' 2>/dev/null' EXIT INT TERM; \
	echo ""; \
	echo "  Communications Credits admin center: http://127.0.0.1:$(PORT)/"; \
	echo "  Support (Django admin):              http://127.0.0.1:$(PORT)/admin/"; \
	echo "  Celery worker + beat log:            var/celery.log   Emails: var/mail/"; \
	echo "  Demo logins are listed above (Contoso billing admin: billing@contoso.example / contoso-demo-2026)."; \
	echo ""; \
	$(BIN)/python manage.py runserver 127.0.0.1:$(PORT)

test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles .pytest_cache
