"""Production settings refuse to start without their secrets, and pass Django's deploy checks."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PROD_ENV = {
    "SECRET_KEY": "x" * 64 + "-not-a-real-secret-but-long-and-random-enough",
    "ALLOWED_HOSTS": "credits.example.com",
    "DATABASE_URL": "sqlite:////tmp/credits-deploy-check.sqlite3",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/15",
}


def manage(*args, env):
    base = {k: v for k, v in os.environ.items() if k not in (*PROD_ENV, "DJANGO_SETTINGS_MODULE", "DJANGO_ALLOW_ASYNC_UNSAFE")}
    base["DJANGO_SETTINGS_MODULE"] = "credits_site.settings.production"
    return subprocess.run(
        [sys.executable, "manage.py", *args], cwd=ROOT, env={**base, **env}, capture_output=True, text=True, timeout=120
    )


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "DATABASE_URL", "CELERY_BROKER_URL"])
def test_production_refuses_to_start_without_each_required_setting(missing):
    env = {k: v for k, v in PROD_ENV.items() if k != missing}
    result = manage("check", env=env)
    assert result.returncode != 0
    assert f"{missing} must be set" in result.stderr


def test_production_settings_pass_the_deploy_checks():
    result = manage("check", "--deploy", "--fail-level", "WARNING", env=PROD_ENV)
    assert result.returncode == 0, result.stdout + result.stderr


def test_production_waits_a_few_seconds_for_a_postgresql_server_that_does_not_answer():
    code = "from django.db import connection as c; print(c.settings_dict['OPTIONS'].get('connect_timeout'))"
    env = {**PROD_ENV, "DATABASE_URL": "postgres://credits@db.example.internal:5432/credits"}
    assert manage("shell", "-c", code, env=env).stdout.splitlines()[-1] == "5"
    assert manage("shell", "-c", code, env={**env, "DATABASE_CONNECT_TIMEOUT": "2"}).stdout.splitlines()[-1] == "2"


def test_production_checks_a_kept_database_connection_before_using_it_again():
    """A connection the database ended (pg_terminate_backend, a restart) is replaced, not used for a 500."""
    code = "from django.db import connection as c; print(c.settings_dict['CONN_MAX_AGE'], c.settings_dict['CONN_HEALTH_CHECKS'])"
    result = manage("shell", "-c", code, env=PROD_ENV)
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[-1].split() == ["60", "True"]


@pytest.mark.parametrize(
    "weak_key",
    [
        "local-development-only-not-secret",  # local.py's default
        "test-only-not-secret",  # test.py's
        "django-insecure-" + "k" * 40 + "0123456789",  # Django's generated placeholder
        "ab" * 40,  # long but repetitive
    ],
)
def test_production_refuses_a_weak_or_committed_secret_key(weak_key):
    result = manage("check", env={**PROD_ENV, "SECRET_KEY": weak_key})
    assert result.returncode != 0
    assert "SECRET_KEY is too weak for production" in result.stderr


def test_the_makefile_stops_with_a_clear_message_when_no_python_is_new_enough(tmp_path):
    old_python = tmp_path / "python3"
    old_python.write_text("#!/bin/sh\nexit 1\n")
    old_python.chmod(0o755)
    env = {"PATH": f"{tmp_path}:/usr/bin:/bin", "HOME": str(tmp_path)}
    result = subprocess.run(["make", "-s", "python-check"], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "No Python 3.12 or newer was found" in result.stdout


def test_the_makefile_finds_a_new_enough_python_by_itself():
    result = subprocess.run(["make", "-s", "-p", "python-check"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    line = next(text for text in result.stdout.splitlines() if text.startswith("PYTHON :="))
    found = line.split(":=", 1)[1].strip()
    version = subprocess.run([found, "-c", "import sys; print(sys.version_info >= (3, 12))"], capture_output=True, text=True)
    assert version.stdout.strip() == "True"


@pytest.mark.parametrize("entry", ["credits_site.wsgi", "credits_site.asgi", "credits_site.celery"])
def test_a_process_started_without_a_settings_module_runs_production_settings(entry):
    """gunicorn, an ASGI server or a Celery worker started bare must never run the local settings
    (DEBUG on, a known secret): they get production's, which refuse to start without their secrets."""
    env = {k: v for k, v in os.environ.items() if k not in (*PROD_ENV, "DJANGO_SETTINGS_MODULE")}
    code = f"import {entry}; from django.conf import settings; print(settings.DEBUG)"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode != 0
    assert "SECRET_KEY must be set" in result.stderr


def test_the_web_process_freezes_what_it_loaded_so_that_the_garbage_collector_skips_it():
    """credits_site.wsgi ends with gc.freeze(): the modules and objects loaded at start live as long as
    the process, and full collections no longer walk them (docs/performance.md, "Third round")."""
    env = {**os.environ, **PROD_ENV}
    code = "import gc; import credits_site.wsgi; print(gc.get_freeze_count(), len(gc.get_objects()))"
    result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    frozen, tracked = map(int, result.stdout.split())
    assert frozen > 10_000 and tracked < frozen // 10


@pytest.mark.parametrize("bucket, backend", [("", "FileSystemStorage"), ("credits-exports", "S3Storage")])
def test_production_keeps_built_exports_on_the_disk_unless_a_bucket_is_named(bucket, backend):
    code = ("from django.conf import settings as s; d = s.STORAGES['default']; "
            "print(d['BACKEND'].rsplit('.', 1)[-1], d.get('OPTIONS', {}).get('bucket_name'), d.get('OPTIONS', {}).get('endpoint_url'))")
    env = {**PROD_ENV, "EXPORTS_S3_BUCKET": bucket, "AWS_S3_ENDPOINT_URL": "http://127.0.0.1:9000"}
    result = manage("shell", "-c", code, env=env)
    assert result.returncode == 0, result.stderr
    expected = [backend, "credits-exports", "http://127.0.0.1:9000"] if bucket else [backend, "None", "None"]
    assert result.stdout.splitlines()[-1].split() == expected


def test_a_process_a_test_starts_listens_on_the_redis_database_of_the_test_that_started_it():
    """Under pytest-xdist each worker moves the broker to its own Redis database. A Celery worker that a
    test of gw1 starts inherits gw1's environment; it must not move once more, where gw1's tasks never
    arrive (CI's PostgreSQL pass failed so whenever the killed-worker test ran on gw1)."""
    code = "from django.conf import settings; import os; print(settings.CELERY_BROKER_URL); print(os.environ['TEST_BROKER_MOVED_FOR'])"
    base = {k: v for k, v in os.environ.items() if k not in ("TEST_BROKER_MOVED_FOR", "DJANGO_SETTINGS_MODULE")}
    test_worker = {**base, "DJANGO_SETTINGS_MODULE": "credits_site.settings.test", "PYTEST_XDIST_WORKER": "gw1",
                   "CELERY_BROKER_URL": "redis://127.0.0.1:6379/11"}

    def broker_seen(env):
        result = subprocess.run([sys.executable, "-c", code], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, result.stderr
        return result.stdout.split()

    url, moved_for = broker_seen(test_worker)
    assert (url, moved_for) == ("redis://127.0.0.1:6379/12", "gw1")
    # The process the test starts: the test's environment as its settings left it.
    assert broker_seen({**test_worker, "CELERY_BROKER_URL": url, "TEST_BROKER_MOVED_FOR": moved_for})[0] == url
