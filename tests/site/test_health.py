"""/health/ and /health/ready answer without sign-in, name what fails, and never wait long.

Failures are real: a broker URL on a closed port, a server that accepts and never answers, a whole
process configured with production settings against a database that is not there. Nothing is mocked.
"""

import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from pathlib import Path

import pytest
from django.urls import reverse

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


def closed_port():
    """A port nobody listens on: bound, then released."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def silent_server():
    """A port whose connections are accepted by the kernel and never answered."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        s.listen(16)
        yield s.getsockname()[1]


def test_health_answers_200_when_the_database_and_the_broker_answer(client):
    response = client.get(reverse("health"))
    assert response.status_code == 200, response.content
    assert response.json() == {
        "status": "ok",
        "failed": [],
        "checks": {"database": {"status": "ok"}, "broker": {"status": "ok"}},
    }
    assert "no-store" in response["Cache-Control"]


def test_ready_answers_200_when_every_migration_is_applied(client):
    response = client.get(reverse("health_ready"))
    assert response.status_code == 200, response.content
    assert response.json()["checks"] == {"database": {"status": "ok"}, "migrations": {"status": "ok"}}


def test_health_names_the_broker_when_its_port_is_closed(client, settings):
    settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{closed_port()}/0"
    response = client.get(reverse("health"))
    assert response.status_code == 503
    body = response.json()
    assert body["failed"] == ["broker"]
    assert body["checks"]["database"] == {"status": "ok"}
    assert body["checks"]["broker"]["status"] == "fail"


def test_a_broker_that_never_answers_fails_the_probe_within_the_timeout(client, settings):
    settings.HEALTH_CHECK_TIMEOUT = 0.5
    with silent_server() as port:
        settings.CELERY_BROKER_URL = f"redis://127.0.0.1:{port}/0"
        url = reverse("health")  # loads the URLconf (phonenumbers' geodata: about 1.5 s) before the clock starts
        started = time.monotonic()
        response = client.get(url)
        elapsed = time.monotonic() - started
    assert response.status_code == 503 and response.json()["failed"] == ["broker"]
    assert elapsed < 2, f"the probe took {elapsed:.1f} s"


def test_the_answer_carries_no_server_address_or_message(client, settings):
    settings.CELERY_BROKER_URL = f"redis://user:hunter2@127.0.0.1:{closed_port()}/0"
    text = client.get(reverse("health")).content.decode()
    assert "127.0.0.1" not in text and "hunter2" not in text and "refused" not in text.lower()


def test_health_is_open_to_anyone_and_reads_only_what_it_must(client, django_assert_num_queries):
    # No session or tenant lookup on the request's own connection: the checks use fresh ones.
    with django_assert_num_queries(0):
        assert client.get(reverse("health")).status_code == 200


def test_only_get_and_head_are_answered(client):
    assert client.post(reverse("health")).status_code == 405
    assert client.head(reverse("health")).status_code == 200


# A whole process on production settings ---------------------------------------------------------

PROBE = """
import json, sys, time
import django
django.setup()
from django.test import Client
for path in sys.argv[1:]:
    started = time.monotonic()
    response = Client().get(path)  # plain http, as a load balancer probes
    seconds = time.monotonic() - started
    print(json.dumps({"path": path, "status": response.status_code, "body": response.content.decode(), "seconds": seconds}))
"""


def probe_production(database_url, *paths, **extra_env):
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE", "DATABASE_URL", "CELERY_BROKER_URL")}
    env.update(
        DJANGO_SETTINGS_MODULE="credits_site.settings.production",
        SECRET_KEY="health-test-" + "x" * 60,
        ALLOWED_HOSTS="testserver",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL="filesystem://",  # always answers: only the database is in question here
        LOG_LEVEL="CRITICAL",
        **extra_env,
    )
    started = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-c", PROBE, *paths], cwd=ROOT, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    assert result.returncode == 0, result.stderr
    answers = {}
    for line in result.stdout.splitlines():
        answer = json.loads(line)
        answers[answer["path"]] = (answer["status"], json.loads(answer["body"]) if answer["status"] in (200, 503) else None)
        answers[answer["path"] + " seconds"] = answer["seconds"]
    return answers, time.monotonic() - started


def test_health_names_the_database_when_it_does_not_answer_and_is_not_redirected_to_https():
    answers, _ = probe_production(f"postgres://postgres@127.0.0.1:{closed_port()}/credits", "/health/", "/health/ready")
    status, body = answers["/health/"]
    assert status == 503, "SECURE_SSL_REDIRECT is on in production: the probe must not be redirected"
    assert body["failed"] == ["database"] and body["checks"]["broker"] == {"status": "ok"}
    status, body = answers["/health/ready"]
    assert status == 503 and "database" in body["failed"]


def test_a_database_that_never_answers_fails_the_probe_within_the_timeout():
    with silent_server() as port:
        answers, _ = probe_production(
            f"postgres://postgres@127.0.0.1:{port}/credits", "/health/", HEALTH_CHECK_TIMEOUT="1"
        )
    status, body = answers["/health/"]
    assert status == 503 and body["failed"] == ["database"] and body["checks"]["database"]["error"] == "Timeout"
    # The request's own time, measured in the process: starting Django on a busy machine is no part of it.
    assert answers["/health/ seconds"] < 5, f"the probe took {answers['/health/ seconds']:.1f} s"


def test_ready_is_503_while_migrations_are_not_applied(tmp_path):
    answers, _ = probe_production(f"sqlite:///{tmp_path / 'empty.sqlite3'}", "/health/ready", "/health/")
    status, body = answers["/health/ready"]
    assert status == 503 and body["failed"] == ["migrations"]
    assert body["checks"]["migrations"]["error"].endswith("migrations are not applied")
    assert answers["/health/"][0] == 200, "the database answers: only readiness waits for the migrations"
