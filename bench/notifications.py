"""Notifications benchmark.

1. Dispatch: one core event to organizations of 50, 500 and 5,000 admins. The event and all its
   deliveries are written by the same small number of queries, whatever the size.
2. Delivery rate: the deliveries of the 5,000-admin event sent to a local SMTP server (aiosmtpd's
   Sink in its own process on 127.0.0.1): by the sender in this process, and, when PostgreSQL and
   Redis are configured, by a real Celery worker (2 prefork processes) fed through Redis.

    .venv/bin/python -m bench.notifications                      # SQLite in memory, in-process sender
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_notif \\
    CELERY_BROKER_URL=redis://127.0.0.1:6379/2 .venv/bin/python -m bench.notifications --write-docs
    .venv/bin/python -m bench notifications                      # through `make bench`'s runner

It works in a throwaway database (bench_notifications_<name>, created and dropped here) and sends only to 127.0.0.1.
"""

import argparse
import datetime
import os
import re
import signal
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path

from bench import cpu_model, database_url, throwaway_database

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- notifications-bench:start -->", "<!-- notifications-bench:end -->"


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def wait_for_port(port, timeout=15.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError(f"nothing listens on 127.0.0.1:{port}")


def machine():
    def run(cmd):
        try:
            return subprocess.run(cmd, capture_output=True, text=True, timeout=5).stdout.strip()
        except OSError:
            return "?"

    cpu = cpu_model()
    memory = next((line.split()[1] for line in run(["free", "-h"]).splitlines() if line.startswith("Mem:")), "?")
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    return {"nproc": run(["nproc"]), "cpu": cpu, "memory": memory, "load": load, "date": datetime.datetime.now(datetime.UTC)}


def setup_django():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "credits_site.settings.test")
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def make_organization(admins, name):
    """An organization with `admins` people holding 1 or 2 of the 20 roles, 10% members without a role."""
    from django.contrib.auth import get_user_model

    from billing.choices import AdminRole, CommerceModel, PurchaseChannel
    from billing.models import Membership, MembershipRole, Organization

    User = get_user_model()
    slug = f"{name.lower()}-{uuid.uuid4().hex[:6]}"
    org = Organization.objects.create(
        name=name, slug=slug, country="US", billing_region="US",
        purchase_channel=PurchaseChannel.WEB_DIRECT, commerce_model=CommerceModel.TRADITIONAL,
    )
    people = admins + admins // 10
    users = User.objects.bulk_create(
        [
            User(username=f"{slug}-{i}@bench.example", email=f"{slug}-{i}@bench.example", password="!", first_name="Admin", last_name=str(i))
            for i in range(people)
        ],
        batch_size=2000,
    )
    memberships = Membership.objects.bulk_create([Membership(user=u, organization=org) for u in users], batch_size=2000)
    roles = AdminRole.values
    rows = []
    for i, membership in enumerate(memberships[:admins]):
        rows.append(MembershipRole(membership=membership, role=roles[i % 20]))
        if i % 3 == 0:
            rows.append(MembershipRole(membership=membership, role=roles[(i + 7) % 20]))
    MembershipRole.objects.bulk_create(rows, batch_size=2000)
    return org


def dispatch(org, key):
    """Record one core event to everyone, counting its queries (the on-commit hand-off is not run)."""
    from django.db import connection, transaction
    from django.test.utils import CaptureQueriesContext

    from notifications import kinds, receivers, services

    enqueue, receivers.enqueue_event_deliveries = receivers.enqueue_event_deliveries, lambda *a, **k: None
    try:
        started = time.perf_counter()
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            event = services.record_event(
                kind=kinds.BALANCE_DEPLETED, organization=org, account=org.credit_account, dedupe_key=key
            )
        elapsed = time.perf_counter() - started
    finally:
        receivers.enqueue_event_deliveries = enqueue
    return event, len(queries), elapsed


def start_sink(port):
    process = subprocess.Popen(
        [sys.executable, "-m", "aiosmtpd", "-n", "-l", f"127.0.0.1:{port}", "-c", "aiosmtpd.handlers.Sink"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    wait_for_port(port)
    return process


def stop(process):
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def smtp_mailer(port):
    return {
        "default": {
            "BACKEND": "django.core.mail.backends.smtp.EmailBackend",
            "OPTIONS": {"host": "127.0.0.1", "port": port, "timeout": 10},
        }
    }


def sent_count(event):
    from notifications.models import Delivery, DeliveryStatus

    return Delivery.objects.filter(event=event, status=DeliveryStatus.SENT).count()


def deliver_in_process(event):
    from notifications import services

    started = time.perf_counter()
    while True:
        run = services.send_event_deliveries(event.pk, budget_seconds=3600)
        if not run.more_due:
            break
    elapsed = time.perf_counter() - started
    return sent_count(event), elapsed


def deliver_with_worker(event, count, smtp_port, broker):
    """A real `celery worker` (2 prefork processes) on this test database, fed through Redis."""
    from django.db import connection
    from django.db.models import Max

    from credits_site.celery import app
    from notifications.models import Delivery
    from notifications.tasks import enqueue_event_deliveries

    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="credits_site.settings.local",
        DEBUG="false",
        DATABASE_URL=database_url(connection.settings_dict),
        CELERY_BROKER_URL=broker,
        EMAIL_BACKEND="smtp",
        EMAIL_HOST="127.0.0.1",
        EMAIL_PORT=str(smtp_port),
        EMAIL_USE_TLS="false",
        LOG_LEVEL="WARNING",
    )
    eager, app.conf.task_always_eager = app.conf.task_always_eager, False
    with app.connection_for_write() as conn:
        conn.default_channel.queue_purge(app.conf.task_default_queue)
    # The worker writes its log to a file: a pipe that nobody reads once the worker is up fills after
    # some 64 KB of log lines, and the worker then blocks on its next line (the rate measured is the pipe's).
    (ROOT / "var").mkdir(exist_ok=True)
    log_path = ROOT / "var" / "bench-notifications-worker.log"
    log = open(log_path, "w")
    worker = subprocess.Popen(
        [str(Path(sys.executable).with_name("celery")), "-A", "credits_site", "worker", "--pool=prefork",
         "--concurrency=2", "--loglevel=INFO", "--without-gossip", "--without-mingle", "--without-heartbeat"],
        cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while " ready." not in log_path.read_text() and time.monotonic() < deadline:
            time.sleep(0.2)
        started = datetime.datetime.now(datetime.UTC)
        clock = time.perf_counter()
        enqueue_event_deliveries(event.pk, count)
        deadline = time.monotonic() + 600
        while sent_count(event) < count and time.monotonic() < deadline:
            time.sleep(0.25)
        wall = time.perf_counter() - clock
        last = Delivery.objects.filter(event=event).aggregate(at=Max("sent_at"))["at"]
        elapsed = (last - started).total_seconds() if last else wall
        return sent_count(event), elapsed
    finally:
        stop(worker)
        log.close()
        app.conf.task_always_eager = eager


def markdown(result):
    m = result["machine"]
    lines = [
        START,
        "## Notifications",
        "",
        f"Measured {m['date']:%Y-%m-%d %H:%M} UTC with `python -m bench.notifications` on {m['nproc']} CPU(s) "
        f"({m['cpu']}), {m['memory']} RAM, {result['database']}. The machine is shared with other work "
        f"(load average {m['load']} at the start), and the SMTP server runs on the same CPUs, so the rates "
        "are a floor, not a ceiling.",
        "",
        "**Dispatch** (one core event to every admin of the organization: the event, the recipient query with "
        "duplicates collapsed, and all deliveries in one transaction):",
        "",
        "| admins (people with a role) | deliveries created | queries | time |",
        "| ---: | ---: | ---: | ---: |",
    ]
    for row in result["dispatch"]:
        lines.append(f"| {row['admins']:,} | {row['deliveries']:,} | {row['queries']} | {row['ms']:.0f} ms |")
    lines += [
        "",
        "The number of queries does not grow with the number of admins: deliveries go in with one bulk "
        "INSERT (PostgreSQL's UNNEST form; SQLite splits it only at its variable limit).",
        "",
        "**Delivery** to a local SMTP server (aiosmtpd `Sink`, its own process on 127.0.0.1), batches of 100 "
        "claimed with `SELECT ... FOR UPDATE SKIP LOCKED` and one SMTP connection per batch:",
        "",
        "| sender | emails | seconds | emails per second |",
        "| --- | ---: | ---: | ---: |",
    ]
    for row in result["delivery"]:
        lines.append(f"| {row['sender']} | {row['sent']:,} | {row['seconds']:.1f} | {row['rate']:.0f} |")
    lines.append(END)
    return "\n".join(lines) + "\n"


def write_docs(section):
    """Replace this benchmark's own section of docs/performance.md (or append it); other sections stay."""
    text = DOCS.read_text() if DOCS.exists() else "# Performance\n"
    if START in text and END in text:
        text = re.sub(re.escape(START) + r".*?" + re.escape(END) + r"\n?", section, text, flags=re.S)
    else:
        text = text.rstrip("\n") + "\n\n" + section
    DOCS.write_text(text)


def measure(sizes=(50, 500, 5000), worker=True):
    """Run both measurements in a throwaway test database; Django must be set up."""
    from django.conf import settings
    from django.db import connection

    result = {"machine": machine(), "dispatch": [], "delivery": []}
    vendor = connection.vendor
    saved_mailers = settings.MAILERS
    sink = None
    with throwaway_database("notifications"):
        try:
            result["database"] = "PostgreSQL" if vendor == "postgresql" else "SQLite (in memory)"
            made = []
            for size in sizes:
                org = make_organization(size, f"Bench{size}")
                event, queries, elapsed = dispatch(org, f"bench-{size}")
                deliveries = event.deliveries.count()
                result["dispatch"].append({"admins": size, "deliveries": deliveries, "queries": queries, "ms": elapsed * 1000})
                print(f"dispatch to {size:>5} admins: {deliveries:>5} deliveries, {queries} queries, {elapsed * 1000:.0f} ms", flush=True)
                made.append((org, event, deliveries))

            port = free_port()
            sink = start_sink(port)
            settings.MAILERS = smtp_mailer(port)
            org, event, deliveries = made[-1]
            sent, elapsed = deliver_in_process(event)
            result["delivery"].append({"sender": "this process (one sender)", "sent": sent, "seconds": elapsed, "rate": sent / elapsed})
            print(f"in-process sender: {sent} emails in {elapsed:.1f} s = {sent / elapsed:.0f}/s", flush=True)

            broker = os.environ.get("CELERY_BROKER_URL", "")
            if worker and vendor == "postgresql" and broker.startswith("redis://"):
                event, _, _ = dispatch(org, "bench-worker")
                sent, elapsed = deliver_with_worker(event, deliveries, port, broker)
                result["delivery"].append(
                    {"sender": "Celery worker via Redis (2 prefork processes)", "sent": sent, "seconds": elapsed, "rate": sent / elapsed}
                )
                print(f"celery worker: {sent} emails in {elapsed:.1f} s = {sent / elapsed:.0f}/s", flush=True)
            else:
                result["worker_skipped"] = "needs DATABASE_URL=postgres://... and CELERY_BROKER_URL=redis://..."
                print(f"(no Celery worker run: {result['worker_skipped']})")
        finally:
            settings.MAILERS = saved_mailers
            if sink is not None:
                stop(sink)
    return result


def run():
    """Entry point for `python -m bench` (Django is already set up there)."""
    result = measure()
    figures = []
    for row in result["dispatch"]:
        figures.append(
            {"name": f"dispatch to {row['admins']:,} admins", "value": row["queries"], "unit": "queries",
             "note": f"{row['deliveries']:,} deliveries in {row['ms']:.0f} ms"}
        )
    for row in result["delivery"]:
        figures.append({"name": f"delivery rate, {row['sender']}", "value": round(row["rate"], 1), "unit": "emails/s",
                        "note": f"{row['sent']:,} emails in {row['seconds']:.1f} s to aiosmtpd on 127.0.0.1"})
    if "worker_skipped" in result:
        figures.append({"name": "delivery rate, Celery worker via Redis", "value": None, "note": result["worker_skipped"]})
    return figures


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="50,500,5000", help="organization sizes for the dispatch measurement")
    parser.add_argument("--no-worker", action="store_true", help="skip the real Celery worker measurement")
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    args = parser.parse_args(argv)
    setup_django()
    result = measure([int(s) for s in args.sizes.split(",")], worker=not args.no_worker)
    section = markdown(result)
    print()
    print(section)
    if args.write_docs:
        write_docs(section)
        print(f"written to {DOCS}")
    return result


if __name__ == "__main__":
    main()
