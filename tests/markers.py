"""Markers for tests that need a real server: they skip with the reason when it is absent."""

import os
import socket

import pytest
from django.conf import settings


def _db_engine():
    return settings.DATABASES["default"]["ENGINE"]


def _answers(host, port):
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


requires_postgres = pytest.mark.skipif(
    "postgresql" not in _db_engine(),
    reason="needs PostgreSQL: run with DATABASE_URL=postgres://... (the CI integration run does)",
)

REDIS_URL = os.environ.get("CELERY_BROKER_URL", "")
requires_redis = pytest.mark.skipif(
    not REDIS_URL.startswith("redis://") or not _answers("127.0.0.1", 6379),
    reason="needs Redis: run with CELERY_BROKER_URL=redis://127.0.0.1:6379/N and a server (the CI integration run does)",
)
