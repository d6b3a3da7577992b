"""A large export through a real Celery worker on Redis and PostgreSQL (not eager mode).

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_usage \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/5 .venv/bin/python -m pytest tests/usage/test_export_worker.py

The worker runs in this process (celery.contrib.testing.worker.start_worker, a thread pool) and uses
the test database. The Redis database number of CELERY_BROKER_URL is flushed.
"""

import time
from datetime import UTC, datetime, timedelta

import pytest
from celery.contrib.testing.worker import start_worker
from django.urls import reverse

from credits_site.celery import app
from tests.markers import REDIS_URL, requires_postgres, requires_redis
from tests.usage.factories import PersonFactory, graph_call, page, standard_rates
from usage.models import Export
from usage.services.ingest import import_graph_payload

pytestmark = [requires_postgres, requires_redis, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def worker(settings):
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    client.flushdb()
    app.conf.task_always_eager = False
    app._pool = None
    app.amqp._producer_pool = None
    with start_worker(app, pool="threads", concurrency=1, perform_ping_check=False, loglevel="WARNING"):
        yield
    app.conf.task_always_eager = True
    app._pool = None
    app.amqp._producer_pool = None
    client.flushdb()


def test_a_large_export_is_built_by_the_worker_and_offered_for_download(client, org, reports_reader, settings, tmp_path, worker):
    settings.MEDIA_ROOT = str(tmp_path / "media")
    settings.USAGE_EXPORT_IMMEDIATE_ROWS = 10
    standard_rates()
    PersonFactory(organization=org, upn="alice@contoso.test", licenses="MCOPSTN1 MCOPSTNPP")
    now = datetime.now(UTC).replace(microsecond=0)
    import_graph_payload(org, page([graph_call(start=now - timedelta(hours=i)) for i in range(40)]), "pstn")
    client.force_login(reports_reader)
    response = client.post(reverse("usage:export_create", args=["pstn"]), {"format": "csv_zip", "query": "range=7"})
    export = Export.objects.get()
    assert response.status_code == 302
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        export.refresh_from_db()
        if export.status in ("done", "failed"):
            break
        time.sleep(0.2)
    assert export.status == "done" and export.rows_done == 40
    download = client.get(reverse("usage:export_file", args=[export.public_id]))
    assert download.status_code == 200 and download["Content-Disposition"].endswith('.zip"')
