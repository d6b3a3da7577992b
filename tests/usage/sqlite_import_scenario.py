"""An import and another organization's writes on a real SQLite file, in a process of its own.

Run by tests/usage/test_import_concurrency.py, since the test run's own SQLite database lives in
memory, where locks work otherwise. The site's SQLite settings hold (BEGIN IMMEDIATE, a busy
timeout), so a write waits while another connection holds the write lock, then fails with
"database is locked": what another tenant's sign-in and the Celery tasks met while a large import
read and checked its rows.

    python -m tests.usage.sqlite_import_scenario DB_PATH ROWS  -> one JSON line of what happened

The upload stops halfway through its bytes until the other organization has signed in and paid,
so that the import is surely busy reading and checking rows at that moment; that connection gives
up after 2 seconds of waiting for the lock instead of the site's 20. Then the other organization
keeps writing, with the site's own timeout, until the import has rated and written its rows.
"""

import io
import json
import os
import sys
import threading
import time
from datetime import timedelta

os.environ["DATABASE_URL"] = f"sqlite:///{sys.argv[1]}"
os.environ["DJANGO_SETTINGS_MODULE"] = "credits_site.settings.test"

import django  # noqa: E402

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection, connections  # noqa: E402
from django.test import Client  # noqa: E402
from django.urls import reverse  # noqa: E402

from billing.choices import AdminRole  # noqa: E402
from tests.factories import DEFAULT_PASSWORD, OrganizationFactory, admin_in  # noqa: E402
from tests.usage.factories import PersonFactory, at, csv_bytes, export_row, fund, standard_rates  # noqa: E402
from usage.models import CallRecord  # noqa: E402
from usage.services.ingest import import_file  # noqa: E402

WAIT_SECONDS = 60


class UploadThatStopsHalfway(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.halfway = len(data) // 2
        self.reached = threading.Event()
        self.go_on = threading.Event()

    def read(self, size=-1):
        if self.tell() >= self.halfway and not self.reached.is_set():
            self.reached.set()
            self.go_on.wait(WAIT_SECONDS)
        return super().read(size)


def in_thread(work, outcome):
    def run():
        try:
            outcome["value"] = work()
        except Exception as exc:  # noqa: BLE001 - reported to the test
            outcome["error"] = f"{type(exc).__name__}: {exc}"
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def main(rows):
    call_command("migrate", verbosity=0)
    standard_rates()
    importer = OrganizationFactory(name="Importer", slug="importer")
    PersonFactory(organization=importer, upn="dave@contoso.test", licenses="MCOPSTN9 MCOPSTNPP")
    fund(importer)
    other = OrganizationFactory(name="Other tenant", slug="other-tenant")
    fund(other, key="other:fund")
    person = admin_in(other, AdminRole.BILLING_ADMINISTRATOR)
    upload = UploadThatStopsHalfway(
        csv_bytes([export_row(UPN="dave@contoso.test", start=at() + timedelta(seconds=i)) for i in range(rows)])
    )
    connections.close_all()

    imported = {}
    importing = in_thread(lambda: import_file(importer, upload, "calls.csv", "pstn").created, imported)
    if not upload.reached.wait(WAIT_SECONDS):
        raise SystemExit("the import never read half of its upload")

    def other_tenant_writes():
        connection.ensure_connection()
        connection.connection.execute("PRAGMA busy_timeout = 2000")
        started = time.monotonic()
        response = Client().post(reverse("login"), {"username": person.username, "password": DEFAULT_PASSWORD})
        fund(other, amount="5.00", key="other:during-import")  # a money write, as a Celery task makes
        return {"status": response.status_code, "seconds": round(time.monotonic() - started, 3)}

    def other_tenant_keeps_writing():
        # With the site's own timeout: the rating and writing of the import hold the lock, briefly.
        writes, longest = 0, 0.0
        while importing.is_alive():
            started = time.monotonic()
            fund(other, amount="1.00", key=f"other:while-writing:{writes}")
            longest = max(longest, time.monotonic() - started)
            writes += 1
            time.sleep(0.05)
        return {"writes": writes, "longest_wait": round(longest, 3)}

    signed_in, kept_writing = {}, {}
    in_thread(other_tenant_writes, signed_in).join(WAIT_SECONDS)
    import_was_busy = importing.is_alive() and not CallRecord.objects.exists()
    upload.go_on.set()
    writing = in_thread(other_tenant_keeps_writing, kept_writing)
    importing.join(WAIT_SECONDS)
    writing.join(WAIT_SECONDS)
    print(json.dumps({"sign_in": signed_in, "import_was_busy": import_was_busy, "import": imported, "kept_writing": kept_writing}))


if __name__ == "__main__":
    main(int(sys.argv[2]))
