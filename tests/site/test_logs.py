"""Production logs: one JSON object a line, with the request's id, user and organization, or the
Celery task's id and name; the request id is taken from X-Request-ID when sane and sent back."""

import json
import logging
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.urls import reverse

from credits_site import celery_app
from credits_site.logs import logging_settings
from tests.markers import REDIS_URL, requires_redis

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.django_db


@celery_app.task(name="tests.site.log_a_line")
def log_a_line(text):
    logging.getLogger("tests.site").info(text)


def request_line(json_log, path):
    return next(line for line in json_log.of("credits_site.requests") if line["path"] == path)


def test_every_record_is_one_json_object_a_line(client, json_log):
    client.get(reverse("login"))
    logging.getLogger("tests.site").warning("two\nlines")
    lines = json_log.text.splitlines()
    assert lines and all(isinstance(json.loads(line), dict) for line in lines)
    record = json_log.of("tests.site")[0]
    assert record["message"] == "two\nlines" and record["level"] == "WARNING"
    assert {"timestamp", "pid"} <= set(record)


def test_a_signed_in_request_is_logged_with_its_id_user_and_organization(client, billing_admin, org, json_log):
    client.force_login(billing_admin)
    response = client.get(reverse("billing:credits"))
    line = request_line(json_log, reverse("billing:credits"))
    assert (line["status"], line["method"]) == (200, "GET")
    assert line["request_id"] == response["X-Request-ID"]
    assert (line["user_id"], line["organization_id"]) == (billing_admin.pk, org.pk)
    assert line["duration_ms"] >= 0


def test_what_the_view_logs_carries_the_same_request_id(client, global_admin, json_log):
    client.force_login(global_admin)
    response = client.post(reverse("usage:api_keys"), {"name": "Graph forwarder"})
    created = next(line for line in json_log.of("usage.services.api_keys") if "created" in line["message"])
    assert created["request_id"] == response["X-Request-ID"] == request_line(json_log, reverse("usage:api_keys"))["request_id"]
    assert created["user_id"] == global_admin.pk


def test_an_anonymous_request_has_an_id_and_no_user(client, json_log):
    client.get(reverse("login"))
    line = request_line(json_log, reverse("login"))
    assert line["request_id"] and "user_id" not in line and "organization_id" not in line


def test_a_sane_request_id_from_the_proxy_is_kept_and_echoed(client, json_log):
    response = client.get(reverse("login"), headers={"X-Request-ID": "edge-4f1c2a9e-77b0"})
    assert response["X-Request-ID"] == "edge-4f1c2a9e-77b0"
    assert request_line(json_log, reverse("login"))["request_id"] == "edge-4f1c2a9e-77b0"


@pytest.mark.parametrize("sent", ["has spaces", "x" * 200, "new\nline", "<script>", ""])
def test_an_unusable_request_id_is_replaced_by_a_new_one(client, sent):
    response = client.get(reverse("login"), headers={"X-Request-ID": sent})
    assert response["X-Request-ID"] != sent and len(response["X-Request-ID"]) == 32


def test_the_query_string_stays_out_of_the_log(client, json_log):
    client.get(reverse("login"), {"next": "/billing/?secret-search=hunter2"})
    assert "hunter2" not in json_log.text


def test_a_passing_health_probe_is_logged_at_debug_and_a_page_at_info(client, json_log):
    client.get(reverse("health"))
    client.get(reverse("login"))
    assert request_line(json_log, reverse("health"))["level"] == "DEBUG"
    assert request_line(json_log, reverse("login"))["level"] == "INFO"


def test_a_task_logs_with_its_id_and_name_and_leaves_no_context_behind(json_log):
    result = log_a_line.delay("inside the task")
    logging.getLogger("tests.site").info("after the task")
    inside, after = json_log.of("tests.site")
    assert (inside["task_id"], inside["task_name"]) == (result.id, "tests.site.log_a_line")
    assert "task_id" not in after and "task_name" not in after


def test_production_writes_json_and_a_terminal_gets_plain_text():
    assert settings.LOGGING["handlers"]["console"]["formatter"] == "plain"
    config = logging_settings(json=True)
    assert config["handlers"]["console"]["formatter"] == "json"
    assert config["handlers"]["console"]["filters"] == ["context"]


@requires_redis
@pytest.mark.filterwarnings("ignore::celery.exceptions.AlwaysEagerIgnored")  # send_task always goes to the broker
def test_a_real_worker_writes_json_lines_with_the_task_id(tmp_path):
    """The worker leaves logging to Django's LOGGING (Celery's setup_logging signal): JSON in production."""
    env = {k: v for k, v in os.environ.items() if k not in ("DJANGO_SETTINGS_MODULE",)}
    env.update(
        DJANGO_SETTINGS_MODULE="credits_site.settings.production",
        SECRET_KEY="worker-log-test-" + "x" * 60,
        ALLOWED_HOSTS="localhost",
        DATABASE_URL=f"sqlite:///{tmp_path / 'unused.sqlite3'}",
        CELERY_BROKER_URL=REDIS_URL,
    )
    queue = f"log-test-{os.getpid()}"
    worker = subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "credits_site", "worker", "--pool=solo", "--loglevel=INFO", "-Q", queue,
         "-n", f"{queue}@%h", "--without-mingle", "--without-gossip", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
    )
    try:
        task_id = celery_app.send_task("celery.accumulate", args=(1,), queue=queue).id
        deadline = time.monotonic() + 60
        found = None
        while found is None and time.monotonic() < deadline:
            line = worker.stderr.readline()
            if not line:
                break
            if line.startswith("{") and task_id in line:
                record = json.loads(line)
                found = record if record.get("task_id") == task_id else None
        assert found, "no JSON line of the worker carried the task id"
        assert found["task_name"] == "celery.accumulate" and found["logger"] == "celery.app.trace"
    finally:
        worker.terminate()
        try:
            worker.wait(timeout=15)
        except subprocess.TimeoutExpired:
            worker.kill()
