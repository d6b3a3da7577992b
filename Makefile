# The two commands a newcomer needs: `make run` and `make test`. Nothing else has to be installed
# but a Python >= 3.12 (found by itself: PYTHON=..., then the PATH, then pyenv's versions).
# `make stack` runs the production processes on this machine's PostgreSQL and Redis.

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

# The command that loads the demo data (make run, make stack): one place to change if it is renamed.
DEMO_COMMAND := load_demo
# Starts named processes and stops all of them, however make is ended (Ctrl-C, TERM, HUP): bin/serve.
SERVE = $(BIN)/python bin/serve --follow-parent

# make stack: production settings against this machine's PostgreSQL and Redis (both overridable,
# e.g. make stack DATABASE_URL=postgres://... CELERY_BROKER_URL=redis://...), over plain HTTP on
# 127.0.0.1, with a secret generated once into var/ (git-ignored) and reused.
SECRET_KEY_FILE := var/secret_key
STACK_ENV = DJANGO_SETTINGS_MODULE=credits_site.settings.production \
  DATABASE_URL="$${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/credits}" \
  CELERY_BROKER_URL="$${CELERY_BROKER_URL:-redis://127.0.0.1:6379/0}" \
  SECRET_KEY="$$(cat $(SECRET_KEY_FILE))" ALLOWED_HOSTS="$${ALLOWED_HOSTS:-127.0.0.1,localhost}" \
  HTTPS_ONLY=false EMAIL_BACKEND="$${EMAIL_BACKEND:-file}" PORT=$(PORT) WEB_BIND=127.0.0.1 \
  PATH="$(abspath $(BIN)):$$PATH"
# Used as shell assignments before a command (never as arguments, which `ps` would show).
STACK_MANAGE = $(STACK_ENV) $(BIN)/python manage.py

# $(call banner,where the logs go): the addresses and how to sign in, once everything is ready.
define banner
	@echo ""
	@echo "  Communications Credits admin center: http://127.0.0.1:$(PORT)/"
	@echo "  Support (Django admin):              http://127.0.0.1:$(PORT)/admin/"
	@echo "  Health:                              http://127.0.0.1:$(PORT)/health/ and /health/ready"
	@echo "  $(1)"
	@echo "  Demo logins are listed above (Contoso billing admin: billing@contoso.example / contoso-demo-2026)."
	@echo "  Ctrl-C stops everything."
	@echo ""
endef

.PHONY: run stack test test-integration bench load faults install python-check migrate demo clean

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
	$(BIN)/python manage.py $(DEMO_COMMAND)

# Web server, a Celery worker with its embedded beat, all on this machine, on SQLite and the
# filesystem broker. The embedded beat may not end on TERM: its group is killed after 5 seconds.
run: demo
	@mkdir -p var/celery/queue var/mail
	$(call banner,Celery worker + beat log:            var/celery.log   Emails: var/mail/)
	@exec $(SERVE) --grace 5 "web: $(BIN)/python manage.py runserver 127.0.0.1:$(PORT)" \
	  "worker: DJANGO_SETTINGS_MODULE=credits_site.settings.local $(BIN)/celery -A credits_site worker --beat --loglevel=INFO --concurrency=2 \
	    --schedule=var/celerybeat-schedule > var/celery.log 2>&1"

# The processes of the Procfile (gunicorn + WhiteNoise, a Celery worker, exactly one beat) with
# production settings on this machine's PostgreSQL and Redis; the database is created if missing.
stack: install $(SECRET_KEY_FILE)
	@mkdir -p var/mail
	@$(STACK_ENV) $(BIN)/python bin/create-database
	@$(STACK_MANAGE) migrate --noinput
	@$(STACK_MANAGE) $(DEMO_COMMAND)
	@$(STACK_MANAGE) collectstatic --noinput --verbosity 0
	$(call banner,Logs: this terminal (one JSON object a line)   Emails: var/mail/)
	@$(STACK_ENV) exec $(SERVE) --procfile Procfile

$(SECRET_KEY_FILE): | install
	@mkdir -p $(dir $@)
	@umask 077 && $(BIN)/python -c 'import secrets; print(secrets.token_urlsafe(64))' > $@.tmp && mv $@.tmp $@
	@echo "Generated a secret key for make stack in $@ (kept for the next runs)."

# Two processes (pytest-xdist): each has its own test database (and Redis database, on Redis).
PYTEST_ARGS ?= -n 2
test: install
	$(BIN)/python -m pytest $(PYTEST_ARGS)

bench: install
	$(BIN)/python -m bench $(BENCH_ARGS)

# The long benchmarks, on demand (minutes each; docs/performance.md): the load test of the production
# processes with 50 signed-in users, and the faults run (worker killed, Redis restarted, database
# connections terminated, SMTP refusing mail) under traffic. Their own database (a million call records,
# made once) and ports: LOAD_DATABASE_URL, LOAD_BROKER_URL.
LOAD_DATABASE_URL ?= postgres://postgres@127.0.0.1:5432/credits_load
LOAD_BROKER_URL ?= redis://127.0.0.1:6379/5
load: install
	DATABASE_URL="$(LOAD_DATABASE_URL)" CELERY_BROKER_URL="$(LOAD_BROKER_URL)" $(BIN)/python -m bench.load $(LOAD_ARGS)

faults: install
	DATABASE_URL="$(LOAD_DATABASE_URL)" $(BIN)/python -m bench.faults $(FAULTS_ARGS)

clean:
	rm -rf $(VENV) var db.sqlite3 staticfiles .pytest_cache
