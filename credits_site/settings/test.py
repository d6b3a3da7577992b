"""The test suite: fast hashing, in-memory mail, tasks run eagerly unless a test starts a real worker."""

import os

from .base import *  # noqa: F401,F403
from .base import CELERY_BROKER_URL, env

DEBUG = False
SECRET_KEY = "test-only-not-secret"
ALLOWED_HOSTS = ["testserver", "127.0.0.1", "localhost"]
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
MAILERS = {"default": {"BACKEND": "django.core.mail.backends.locmem.EmailBackend"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
WHITENOISE_AUTOREFRESH = True
AXES_ENABLED = env.bool("AXES_ENABLED", default=True)
CELERY_TASK_ALWAYS_EAGER = env.bool("CELERY_TASK_ALWAYS_EAGER", default=True)
CELERY_TASK_EAGER_PROPAGATES = True
# The demo's usage history is a few days in tests (load_demo runs in several fixtures).
USAGE_DEMO_DAYS = 3
if DATABASES["default"]["ENGINE"] != "django.db.backends.sqlite3":  # noqa: F405
    # The test client ends every request as a server would; with the default CONN_MAX_AGE of 0 each
    # request then opens a new PostgreSQL connection, whose backend starts with cold catalog caches:
    # about a millisecond more for each query. Kept (and checked before use, as in production).
    DATABASES["default"]["CONN_MAX_AGE"] = None  # noqa: F405
    DATABASES["default"]["CONN_HEALTH_CHECKS"] = True  # noqa: F405

# `pytest -n N` (pytest-xdist; CI's PostgreSQL pass): each worker process has its own test database
# (pytest-django) and here its own Redis database, so that a Celery worker started by one test never
# takes a task another test enqueued. The environment changes too: tests/markers.py and the processes
# that tests start read CELERY_BROKER_URL from it. Those processes inherit PYTEST_XDIST_WORKER as
# well, so the move is made once and marked: a Celery worker that a test of gw1 starts with these
# settings listens on gw1's database, not one further on, where the test's tasks never arrive.
_xdist_worker = os.environ.get("PYTEST_XDIST_WORKER", "")
if (
    _xdist_worker.startswith("gw")
    and CELERY_BROKER_URL.startswith("redis://")
    and os.environ.get("TEST_BROKER_MOVED_FOR") != _xdist_worker
):
    _server, _, _number = CELERY_BROKER_URL.rpartition("/")
    CELERY_BROKER_URL = f"{_server}/{(int(_number or 0) + int(_xdist_worker[2:])) % 16}"
    os.environ["CELERY_BROKER_URL"] = CELERY_BROKER_URL
    os.environ["TEST_BROKER_MOVED_FOR"] = _xdist_worker
# django-axes announces itself at start-up in each process; with -n 2 the workers' announcements can
# reach the output after pytest's closing line, which CI reads. Its warnings still show.
LOGGING["loggers"]["axes.apps"] = {"level": "WARNING"}  # noqa: F405
