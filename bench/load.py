"""Load test of the production stack: signed-in admins on the pages people use, with a fixed request budget.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_load CELERY_BROKER_URL=redis://127.0.0.1:6379/5 \\
    .venv/bin/python -m bench.load --write-docs          # make load

What it does, in order:

1. Prepares the database named by DATABASE_URL (created if missing, migrated, the demo loaded, static
   files collected), then, once, 1,000,000 call records for the organization under test (Contoso, the
   demo's Web Direct organization) through the import service (`usage.services.ingest.import_file`,
   the upload page's path) from the generator of bench/usage.py, and 50 Billing Administrators of it
   (load01@load.example ...). Both are kept: the next run reuses them.
2. Starts the processes of the `Procfile` (gunicorn with WhiteNoise, a Celery worker, one beat) the way
   `make stack` does (bin/serve, production settings), on 127.0.0.1:PORT (8765 here by default), and
   waits for /health/ready.
3. Signs every user in and has each view every page once (before the clock starts, so that every
   web process is warm), then runs the mix until the request budget is spent: the credits page,
   transactions, the usage report (28 days, a year, a year filtered by one user), the Message center,
   exports (start one, then follow it on the user's next pages until it is built, then download it)
   and fundings (Add funds, its confirmation, through the sandbox gateway, then the payment's page).
4. Reports, per page kind: count, errors, p50, p95 and max, and overall requests per second, and how
   many of the fundings' e-mails were still waiting to be sent when the budget was spent (the worker
   sends them afterwards).

Each run starts with an empty outbox: e-mails an earlier run left waiting (the ceiling run leaves
thousands: the worker, at a lower priority, yields the CPUs to the pages) are sent first, before the
clock starts, so that no run pays for another's. The stack takes back a delivery claimed by a worker
that an earlier run's stop ended after NOTIFICATIONS_STALE_CLAIM_SECONDS=60 (production: 600).

Two runs: `paced` (users pause 1 to 5 s between pages; the target is no errors and p95 under 300 ms on
every page kind) and `ceiling` (no pauses: requests per second, p50, p95; the target is at least 100
requests per second with no errors). `--runs paced` or `--runs ceiling` runs one.

Only loopback addresses are used. The client is http.client (`Browser`): per user, one thread and one
connection at a time, kept while the server keeps it.
"""

import argparse
import datetime
import http.client
import json
import os
import random
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
from collections import defaultdict
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs" / "performance.md"
START, END = "<!-- load-bench:start -->", "<!-- load-bench:end -->"
VAR = ROOT / "var" / "load"

DEFAULT_DATABASE_URL = "postgres://postgres@127.0.0.1:5432/credits_load"
DEFAULT_BROKER_URL = "redis://127.0.0.1:6379/5"
ORG_SLUG = "contoso"
USER_EMAIL = "load{:02d}@load.example"
USER_PASSWORD = "load-bench-2026-not-a-secret"
ROWS = 1_000_000
# The share of each journey in the mix (a journey is one page, or the few pages of a funding).
EXPORT_POLL_SECONDS = 2.0
MIX = {
    "credits": 20,
    "transactions": 14,
    "report 28 days": 16,
    "report year": 10,
    "report year, one user": 10,
    "message center": 14,
    "export": 4,
    "funding": 4,
}


def log(message):
    print(f"load: {message}", file=sys.stderr, flush=True)


# 1. The data ------------------------------------------------------------------------------------------


def stack_env(database_url, broker_url, port, extra=None):
    secret_file = ROOT / "var" / "secret_key"
    if not secret_file.exists():
        import secrets

        secret_file.parent.mkdir(parents=True, exist_ok=True)
        secret_file.write_text(secrets.token_urlsafe(64) + "\n")
        secret_file.chmod(0o600)
    bin_dir = str(Path(sys.executable).parent)
    env = dict(
        os.environ,
        DJANGO_SETTINGS_MODULE="credits_site.settings.production",
        DATABASE_URL=database_url,
        CELERY_BROKER_URL=broker_url,
        SECRET_KEY=secret_file.read_text().strip(),
        ALLOWED_HOSTS="127.0.0.1,localhost",
        HTTPS_ONLY="false",
        EMAIL_BACKEND=os.environ.get("EMAIL_BACKEND", "file"),
        EMAIL_FILE_PATH=str(VAR / "mail"),
        PORT=str(port),
        WEB_BIND="127.0.0.1",
        PATH=f"{bin_dir}:{os.environ.get('PATH', '')}",
        # Built exports where this checkout keeps them, also when the stack runs another checkout's code
        # (--code): an export built by one run is handed out again by the next.
        MEDIA_ROOT=str(ROOT / "var" / "media"),
        # Deliveries claimed by the worker of an earlier run, stopped mid-batch, are taken back soon
        # (see the module's note on the outbox).
        NOTIFICATIONS_STALE_CLAIM_SECONDS="60",
    )
    env.update(extra or {})
    return env


def manage(env, *args):
    subprocess.run([sys.executable, "manage.py", *args], cwd=ROOT, env=env, check=True)


def prepare(env, rows):
    """The database as `make stack` prepares it, then the records and users of the test (kept)."""
    (VAR / "mail").mkdir(parents=True, exist_ok=True)
    subprocess.run([sys.executable, "bin/create-database"], cwd=ROOT, env=env, check=True)
    manage(env, "migrate", "--noinput", "--verbosity", "0")
    manage(env, "load_demo", "--verbosity", "0")
    manage(env, "collectstatic", "--noinput", "--verbosity", "0")
    subprocess.run([sys.executable, "-m", "bench.load", "--prepare-child", "--rows", str(rows)], cwd=ROOT, env=env, check=True)


def prepare_child(rows, users):
    """In a process of its own, with Django set up: users, then records if fewer than `rows`."""
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password

    from bench.usage import prepare as prepare_usage
    from bench.usage import write_csv
    from billing import services
    from billing.choices import AdminRole, EntryKind
    from billing.models import Membership, MembershipRole, Organization
    from usage.models import CallRecord
    from usage.services.ingest import import_file

    org = Organization.objects.get(slug=ORG_SLUG)
    password = make_password(USER_PASSWORD)  # hashed once: the same password for every user
    User = get_user_model()
    for n in range(1, users + 1):
        email = USER_EMAIL.format(n)
        user, created = User.objects.get_or_create(username=email, defaults={"email": email, "first_name": "Load", "last_name": f"{n:02d}"})
        if created or not user.check_password(USER_PASSWORD):
            user.password = password
            user.save(update_fields=["password"])
        membership, _ = Membership.objects.get_or_create(user=user, organization=org)
        MembershipRole.objects.get_or_create(membership=membership, role=AdminRole.BILLING_ADMINISTRATOR)
    have = CallRecord.objects.filter(organization=org).count()
    if have >= rows:
        log(f"{have:,} call records already in {org.name}: reused")
        return
    log(f"{have:,} call records in {org.name}: generating and importing {rows:,} (once; reused afterwards)")
    # The bench's people and rates, as bench.usage does; a large balance by a support adjustment (a
    # funding without a payment would be a reconciliation mismatch, which bench/faults.py checks for).
    prepare_usage(org_slug=ORG_SLUG, fund=False)
    services.post_entry(account_id=org.credit_account.pk, kind=EntryKind.ADJUSTMENT, amount=Decimal("1000000"),
                        idempotency_key="load:balance", memo="Load test: the balance that a million calls draw on")
    today = datetime.datetime.now(datetime.UTC).date()
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "PSTN.calls.load.csv")
        started = time.perf_counter()
        write_csv(path, rows, today)
        log(f"generated {rows:,} rows in {time.perf_counter() - started:.0f} s")
        started = time.perf_counter()
        with open(path, "rb") as handle:
            result = import_file(org, handle, Path(path).name, "pstn", origin="command")
        log(f"imported {result.created:,} rows in {time.perf_counter() - started:.0f} s")
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE usage_callrecord")


# 2. The stack ---------------------------------------------------------------------------------------------


class Stack:
    """The Procfile's processes under bin/serve, as `make stack` runs them; stopped with TERM."""

    def __init__(self, env, port, log_path, entries=None, code=ROOT):
        self.env, self.port, self.log_path, self.code = env, port, log_path, code
        # `name: command` entries instead of the whole Procfile (bench/faults.py runs the worker apart).
        self.arguments = entries or ["--procfile", "Procfile"]
        self.process = None

    def start(self, timeout=60):
        with socket.socket() as probe:  # another server there would answer the health probe for us
            if probe.connect_ex(("127.0.0.1", self.port)) == 0:
                raise RuntimeError(f"something already listens on 127.0.0.1:{self.port}: stop it or choose another port")
        self.log_file = open(self.log_path, "ab")
        self.process = subprocess.Popen(
            [sys.executable, "bin/serve", *self.arguments], cwd=self.code, env=self.env,
            stdout=self.log_file, stderr=subprocess.STDOUT, process_group=0,
        )
        self.wait_ready(timeout)
        return self

    def wait_ready(self, timeout=60):
        import requests

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise RuntimeError(f"the stack ended (status {self.process.returncode}); see {self.log_path}")
            try:
                if requests.get(f"http://127.0.0.1:{self.port}/health/ready", timeout=2).status_code == 200:
                    return
            except requests.RequestException:
                pass
            time.sleep(0.5)
        raise RuntimeError(f"the stack did not become ready in {timeout} s; see {self.log_path}")

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                self.process.wait(30)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()
        if self.process:
            self.log_file.close()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


def wait_for(condition, timeout, message):
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            raise RuntimeError(message)
        time.sleep(0.5)


# 3. The users ------------------------------------------------------------------------------------------

CSRF = re.compile(r'name="csrfmiddlewaretoken" value="([^"]+)"')
TOKEN = re.compile(r'name="token" value="([^"]+)"')
CHECKED_METHOD = re.compile(r'name="payment_method" value="(\d+)"[^>]*checked|checked[^>]*name="payment_method" value="(\d+)"')
ANY_METHOD = re.compile(r'name="payment_method" value="(\d+)"')


class Recorder:
    """Timings per page kind, shared by the users' threads; the budget counts every request."""

    def __init__(self, budget, stop=None):
        self.budget = budget
        self.stop = stop or threading.Event()  # set: every user ends after its current request
        self.lock = threading.Lock()
        self.issued = 0
        self.times = defaultdict(list)
        self.errors = defaultdict(int)
        self.error_samples = []
        self.error_times = []
        self.recording = False
        self.first = self.last = None

    def take(self):
        """One request of the budget, or False when it is spent."""
        with self.lock:
            if self.stop.is_set():
                return False
            if not self.recording:
                return True
            if self.issued >= self.budget:
                return False
            self.issued += 1
            return True

    def record(self, kind, seconds, ok, detail=""):
        if not self.recording:
            return
        with self.lock:
            now = time.monotonic()
            self.last = now
            self.times[kind].append(seconds * 1000)
            if not ok:
                self.errors[kind] += 1
                self.error_times.append(now)
                if len(self.error_samples) < 20:
                    self.error_samples.append(f"{kind}: {detail}")


class Page:
    """What the users read of a response."""

    def __init__(self, status_code, headers, content):
        self.status_code, self.headers, self.content = status_code, headers, content

    @property
    def text(self):
        return self.content.decode("utf-8", errors="replace")

    def json(self):
        return json.loads(self.content)


class Browser:
    """One person's browser: an HTTP/1.1 connection to the stack and the cookies it set. The connection
    is kept while the server keeps it; after a response that closes it (the Procfile's gunicorn closes
    every one: docs/operations.md), http.client opens the next request's connection.

    http.client rather than requests: the client shares the 2 CPUs with the stack it measures, and
    requests spent about 1.1 ms of CPU a request (merging settings, hooks, its cookie jar) against
    about 0.3 ms here; what the client spends, the stack cannot. Like the requests client before it,
    it does not retry: a kept-alive connection the server closed without saying so is an error of the run."""

    def __init__(self, base):
        address = urllib.parse.urlsplit(base)
        self.base, self.host, self.port = base, address.hostname, address.port
        self.connection = None
        self.cookies = {}

    def request(self, method, path, params=None, data=None, headers=None, timeout=30):
        if path.startswith("http"):
            path = urllib.parse.urlsplit(path)._replace(scheme="", netloc="").geturl()
        if params:
            path += ("&" if "?" in path else "?") + urllib.parse.urlencode(params)
        sent = {"Host": f"{self.host}:{self.port}", **(headers or {})}
        if self.cookies:
            sent["Cookie"] = "; ".join(f"{name}={value}" for name, value in self.cookies.items())
        body = None
        if data is not None:
            body = urllib.parse.urlencode(data).encode()
            sent["Content-Type"] = "application/x-www-form-urlencoded"
        if self.connection is None:
            self.connection = http.client.HTTPConnection(self.host, self.port, timeout=timeout)
        try:
            self.connection.request(method, path, body, sent)
            response = self.connection.getresponse()
            content = response.read()
        except Exception:
            self.connection.close()
            self.connection = None
            raise
        for header in response.headers.get_all("Set-Cookie") or []:
            self.keep_cookie(header)
        return Page(response.status, response.headers, content)

    def keep_cookie(self, header):
        name, _, rest = header.partition("=")
        value, *attributes = rest.split(";")
        attributes = [a.strip().lower() for a in attributes]
        if "max-age=0" in attributes or any(a.startswith("expires=thu, 01 jan 1970") for a in attributes):
            self.cookies.pop(name.strip(), None)
        else:
            self.cookies[name.strip()] = value.strip().strip('"')


class BudgetSpent(Exception):
    pass


class User:
    def __init__(self, number, base, recorder, think, today, upns):
        self.number, self.base, self.recorder, self.think = number, base, recorder, think
        self.session = Browser(base)
        self.rng = random.Random(number)
        self.today = today
        self.upns = upns
        self.export = None  # the export being followed: its status URL
        self.export_polled = 0.0
        self.fundings = 0

    def request(self, kind, method, path, expect=200, **kwargs):
        if not self.recorder.take():
            raise BudgetSpent
        started = time.monotonic()
        try:
            response = self.session.request(method, path, **kwargs)  # the whole body is read: part of the page's time
            elapsed = time.monotonic() - started
            ok = response.status_code in (expect if isinstance(expect, tuple) else (expect,))
            self.recorder.record(kind, elapsed, ok, f"{method} {path} -> {response.status_code}")
            return response if ok else None
        except Exception as error:  # noqa: BLE001 - a refused connection or a timeout is an error of the run
            self.recorder.record(kind, time.monotonic() - started, False, f"{method} {path}: {type(error).__name__}")
            return None

    def sign_in(self):
        page = self.session.request("GET", "/sign-in/")
        token = CSRF.search(page.text).group(1)
        response = self.session.request(
            "POST", "/sign-in/",
            data={"csrfmiddlewaretoken": token, "username": USER_EMAIL.format(self.number), "password": USER_PASSWORD, "next": "/"},
            headers={"Referer": self.base + "/sign-in/"},
        )
        if response.status_code != 302:
            raise RuntimeError(f"user {self.number} could not sign in: {response.status_code}")

    def csrf(self):
        return self.session.cookies.get("csrftoken", "")

    # The journeys: each is one page, or the pages of one task ---------------------------------------------

    def year(self):
        return {"range": "custom", "start": (self.today - datetime.timedelta(days=364)).isoformat(), "end": self.today.isoformat()}

    def journey(self, name):
        # An export being built is followed as its status page does, every 2 s at most, between pages.
        if self.export and name != "funding" and time.monotonic() - self.export_polled >= EXPORT_POLL_SECONDS:
            self.export_polled = time.monotonic()
            return self.follow_export()
        if name == "credits":
            self.request(name, "GET", "/billing/products/communications-credits/")
        elif name == "transactions":
            self.request(name, "GET", "/billing/products/communications-credits/transactions/")
        elif name == "report 28 days":
            self.request(name, "GET", "/reports/usage/", params={"range": "28"})
        elif name == "report year":
            self.request(name, "GET", "/reports/usage/", params=self.year())
        elif name == "report year, one user":
            self.request(name, "GET", "/reports/usage/", params={**self.year(), "user": self.rng.choice(self.upns)})
        elif name == "message center":
            self.request(name, "GET", "/message-center/")
        elif name == "export":
            self.start_export()
        elif name == "funding":
            self.funding()

    def start_export(self):
        headers = {"X-CSRFToken": self.csrf(), "Referer": self.base + "/reports/usage/"}
        data = {"csrfmiddlewaretoken": self.csrf(), "format": "csv_zip", "query": "range=28"}
        # A range of up to USAGE_EXPORT_IMMEDIATE_ROWS rows downloads at once (200); a larger one is built
        # by the worker (302 to its status page), which the next pages follow.
        response = self.request("export start", "POST", "/reports/usage/pstn/export/", expect=(200, 302), data=data, headers=headers)
        if response is not None and response.status_code == 302:
            self.export = response.headers["Location"]

    def follow_export(self):
        response = self.request("export status", "GET", self.export, params={"format": "json"})
        if response is None:
            self.export = None
            return
        try:
            status = response.json()
        except ValueError:  # not the JSON status: an error of the run, with what came instead
            self.export = None
            self.recorder.record("export status", 0, False, f"not JSON: {response.headers.get('Content-Type')} {response.text[:80]!r}")
            return
        if status["status"] == "done":
            self.export = None
            self.request("export download", "GET", status["download_url"])
        elif status["status"] == "failed":
            self.export = None
            self.recorder.record("export status", 0, False, f"export failed: {status.get('error')}")

    def funding(self):
        form = self.request("funding form", "GET", "/billing/products/communications-credits/add-funds/")
        if form is None:
            return
        found = CHECKED_METHOD.search(form.text) or ANY_METHOD.search(form.text)
        method = next(g for g in found.groups() if g)
        headers = {"Referer": self.base + "/billing/products/communications-credits/add-funds/"}
        review = self.request(
            "funding review", "POST", "/billing/products/communications-credits/add-funds/",
            data={"csrfmiddlewaretoken": self.csrf(), "amount": "25.00", "payment_method": method, "purchase_order": ""},
            headers=headers,
        )
        if review is None:
            return
        self.pause()
        done = self.request(
            "funding confirm", "POST", "/billing/products/communications-credits/add-funds/", expect=302,
            data={"csrfmiddlewaretoken": self.csrf(), "token": TOKEN.search(review.text).group(1)}, headers=headers,
        )
        if done is None:
            return
        self.fundings += 1
        self.request("payment page", "GET", done.headers["Location"])

    def pause(self):
        if self.think:
            time.sleep(self.rng.uniform(*self.think))

    def run(self, journeys):
        try:
            while True:
                self.journey(self.rng.choices(journeys, weights=[MIX[j] for j in journeys])[0])
                self.pause()
        except BudgetSpent:
            return


def sign_in_all(base, recorder, users, think, today, upns):
    people = [User(n, base, recorder, think, today, upns) for n in range(1, users + 1)]
    threads = [threading.Thread(target=p.sign_in) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return people


def warm_up(person):
    for name in MIX:
        if name not in ("export", "funding"):
            person.journey(name)


def bench_upns(count=2000):
    return [f"user{i:05d}@bench.example" for i in range(0, count, 7)]


def load_run(base, users, budget, think, today, recorder=None, journeys=None):
    """Everybody signed in and every page warmed, then the clock starts and the budget is spent (or
    the recorder's stop event is set: bench/faults.py runs this traffic while it breaks things)."""
    recorder = recorder or Recorder(budget)
    people = sign_in_all(base, recorder, users, think, today, bench_upns())
    # Every user views each page once, all at the same time, so that every web process has compiled
    # its templates and read what it keeps before the clock starts: one user warmed one process.
    warming = [threading.Thread(target=warm_up, args=(p,)) for p in people]
    for t in warming:
        t.start()
    for t in warming:
        t.join()
    recorder.recording = True
    started = time.monotonic()
    journeys = list(journeys or MIX)
    threads = [threading.Thread(target=p.run, args=(journeys,)) for p in people]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    wall = (recorder.last or time.monotonic()) - started
    every = [ms for times in recorder.times.values() for ms in times]
    return {
        "users": users,
        "think": list(think) if think else None,
        "budget": budget,
        "requests": len(every),
        "seconds": wall,
        "rps": len(every) / wall if wall else 0,
        "errors": sum(recorder.errors.values()),
        "p50": percentile(every, 50),
        "p95": percentile(every, 95),
        "kinds": {
            kind: {
                "count": len(times),
                "errors": recorder.errors.get(kind, 0),
                "p50": percentile(times, 50),
                "p95": percentile(times, 95),
                "max": max(times),
            }
            for kind, times in sorted(recorder.times.items())
        },
        "fundings": sum(p.fundings for p in people),
        "error_samples": recorder.error_samples,
    }


def percentile(values, p):
    if not values:
        return 0.0
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    return statistics.quantiles(ordered, n=100, method="inclusive")[p - 1] if p < 100 else ordered[-1]


# 4. The report -------------------------------------------------------------------------------------------


def table(result):
    lines = ["| page kind | count | errors | p50 ms | p95 ms | max ms |", "| --- | ---: | ---: | ---: | ---: | ---: |"]
    for kind, k in result["kinds"].items():
        lines.append(f"| {kind} | {k['count']:,} | {k['errors']} | {k['p50']:.0f} | {k['p95']:.0f} | {k['max']:.0f} |")
    lines.append(
        f"| **all** | {result['requests']:,} | {result['errors']} | {result['p50']:.0f} | {result['p95']:.0f} | "
        f"{max((k['max'] for k in result['kinds'].values()), default=0):.0f} |"
    )
    return "\n".join(lines)


def summary(name, result):
    think = f"pausing {result['think'][0]:g} to {result['think'][1]:g} s between pages" if result["think"] else "with no pauses"
    return (
        f"**{name}**: {result['users']} signed-in users {think}, a budget of {result['budget']:,} requests: "
        f"{result['requests']:,} requests in {result['seconds']:.1f} s, **{result['rps']:.1f} requests/s**, "
        f"p50 {result['p50']:.0f} ms, p95 {result['p95']:.0f} ms, {result['errors']} errors, {result['fundings']} fundings charged"
        + mail_words(result.get("mail_waiting"))
        + (f"; left out of the mix: {', '.join(result['left_out'])}." if result.get("left_out") else ".")
    )


def mail_words(waiting):
    if not waiting:
        return ""
    words = f"; {waiting['after']:,} of their e-mails still waiting to be sent when the budget was spent"
    if waiting["before"]:
        words += f" ({waiting['before']:,} of earlier runs' still waiting when it started)"
    return words


def machine_line():
    from bench import cpu_model

    load = " ".join(f"{x:.1f}" for x in os.getloadavg())
    return f"{os.cpu_count()} CPU(s) ({cpu_model()}), load average {load} at the start"


def vacuum_analyze(database_url):
    """VACUUM (ANALYZE) the whole database, as autovacuum would have by then in production; returns
    whether this server runs autovacuum. Without it (this machine's PostgreSQL has it off) every run's
    deliveries, sessions and ledger rows pile up as dead rows under stale statistics, and each run
    measures the leftovers of the previous ones."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        autovacuum = connection.execute("SHOW autovacuum").fetchone()[0]
        connection.execute("VACUUM (ANALYZE)")
    return autovacuum == "on"


def waiting_mail(database_url):
    """Notification e-mails not sent yet: pending, or claimed by a worker that is sending them."""
    import psycopg

    with psycopg.connect(database_url, autocommit=True) as connection:
        return connection.execute("SELECT count(*) FROM notifications_delivery WHERE status IN ('pending', 'sending')").fetchone()[0]


def drain_mail(database_url, timeout=1200):
    """Wait until the stack's worker has sent every e-mail earlier runs left waiting; returns how many
    are still waiting (0 unless the timeout passed)."""
    waiting = waiting_mail(database_url)
    if not waiting:
        return 0
    log(f"{waiting:,} e-mails of earlier runs still waiting: the worker sends them before the run starts")
    deadline = time.monotonic() + timeout
    told = time.monotonic()
    while waiting and time.monotonic() < deadline:
        time.sleep(2)
        waiting = waiting_mail(database_url)
        if time.monotonic() - told >= 30:
            log(f"  {waiting:,} still waiting")
            told = time.monotonic()
    if waiting:
        log(f"{waiting:,} e-mails still waiting after {timeout} s: the run starts anyway")
    return waiting


def write_docs(text):
    block = f"{START}\n{text.strip()}\n{END}"
    doc = DOCS.read_text()
    if START in doc and END in doc:
        doc = doc.split(START)[0] + block + doc.split(END, 1)[1]
    else:
        doc = doc.rstrip() + "\n\n" + block + "\n"
    DOCS.write_text(doc)


# Orchestration ----------------------------------------------------------------------------------------------


def stop_on_term():
    """TERM ends the run like Ctrl-C does, so that the processes it started are stopped too."""

    def interrupt(signum, frame):
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, interrupt)


def main(argv=None):
    stop_on_term()
    parser = argparse.ArgumentParser(prog="python -m bench.load", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("LOAD_ROWS", ROWS)), help="call records wanted (default 1,000,000)")
    parser.add_argument("--runs", default="paced,ceiling", help="paced, ceiling or both (default)")
    parser.add_argument("--paced-budget", type=int, default=2500, help="requests of the paced run")
    parser.add_argument("--ceiling-budget", type=int, default=6000, help="requests of the ceiling run")
    parser.add_argument("--leave-out", default="", metavar="JOURNEY,...",
                        help=f"journeys left out of the mix, to see what they cost the others ({', '.join(MIX)})")
    parser.add_argument("--port", type=int, default=int(os.environ.get("LOAD_PORT", 8765)))
    parser.add_argument("--no-prepare", action="store_true", help="skip the database preparation (already done)")
    parser.add_argument("--write-docs", action="store_true", help="write the figures into docs/performance.md")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--code", type=Path, default=ROOT,
                        help="run the stack from this checkout (another commit's code, for a before/after comparison)")
    parser.add_argument("--prepare-child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    left_out = [j.strip() for j in args.leave_out.split(",") if j.strip()]
    if unknown := [j for j in left_out if j not in MIX]:
        parser.error(f"--leave-out: no journey named {', '.join(unknown)} (the journeys: {', '.join(MIX)})")
    journeys = [j for j in MIX if j not in left_out]
    if args.prepare_child:
        prepare_child(args.rows, args.users)
        return 0

    database_url = os.environ.get("DATABASE_URL", DEFAULT_DATABASE_URL)
    broker_url = os.environ.get("CELERY_BROKER_URL", DEFAULT_BROKER_URL)
    if not database_url.startswith("postgres"):
        print("Skipped: the load test needs PostgreSQL (DATABASE_URL=postgres://...) and Redis (CELERY_BROKER_URL=redis://...).")
        return 0
    env = stack_env(database_url, broker_url, args.port)
    VAR.mkdir(parents=True, exist_ok=True)
    started_at = datetime.datetime.now(datetime.UTC)
    machine = machine_line()
    if not args.no_prepare:
        prepare(env, args.rows)
    shutil.rmtree(VAR / "mail", ignore_errors=True)
    (VAR / "mail").mkdir(parents=True, exist_ok=True)
    base = f"http://127.0.0.1:{args.port}"
    today = datetime.datetime.now(datetime.UTC).date()
    results = {}
    if args.code.resolve() != ROOT:
        (args.code / "var").mkdir(exist_ok=True)  # beat's schedule file
        subprocess.run([sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"], cwd=args.code, env=env, check=True)
    autovacuum = None
    with Stack(env, args.port, VAR / "stack.log", code=args.code.resolve()):
        for name in [r.strip() for r in args.runs.split(",") if r.strip()]:
            think = (1.0, 5.0) if name == "paced" else None
            budget = args.paced_budget if name == "paced" else args.ceiling_budget
            left_before = drain_mail(database_url)
            autovacuum = vacuum_analyze(database_url)
            log(f"database vacuumed and analyzed before the run (autovacuum is {'on' if autovacuum else 'off'} here)")
            log(f"{name} run: {args.users} users, budget {budget:,} requests")
            results[name] = load_run(base, args.users, budget, think, today, journeys=journeys)
            results[name]["left_out"] = left_out
            results[name]["mail_waiting"] = {"before": left_before, "after": waiting_mail(database_url)}
            print(summary(name, results[name]))
            print(table(results[name]))
            for sample in results[name]["error_samples"]:
                print(f"  error: {sample}")
            print()
    web = next((line for line in (args.code / "Procfile").read_text().splitlines() if line.startswith("web:")), "")
    if args.json:
        Path(args.json).write_text(json.dumps({"started": started_at.isoformat(), "machine": machine, "web": web, "results": results}, indent=1))
    if args.write_docs:
        parts = [
            f"Measured {started_at:%Y-%m-%d %H:%M} UTC on {machine} with `{Path(sys.executable).name} -m bench.load` "
            f"(`make load`), {args.rows:,} call records of the organization under test in PostgreSQL "
            f"(vacuumed and analyzed before each run; autovacuum {'on' if autovacuum else 'off'} on this server), the `Procfile`'s "
            f"processes under bin/serve with production settings, web `{web.split(':', 1)[1].strip()}`.",
        ]
        for name, result in results.items():
            parts += ["", summary(name, result), "", table(result)]
        write_docs("\n".join(parts))
        log(f"written to {DOCS}")
    return 1 if any(r["errors"] for r in results.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
