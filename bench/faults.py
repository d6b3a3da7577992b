"""Faults while the load test's traffic runs: nothing lost, nothing charged twice, nothing stuck.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/credits_load .venv/bin/python -m bench.faults --write-docs   # make faults

The same stack as bench/load.py (the Procfile's gunicorn, Celery worker and beat, production settings,
the database that bench/load.py prepared, with its 1,000,000 call records), with a Redis server and an
SMTP server of its own on loopback ports, so that restarting them disturbs nothing else on the machine:

- Redis: `redis-server` on 127.0.0.1:6390 (REDIS_PORT), the broker of this run only;
- SMTP: an aiosmtpd server in this process (EMAIL_BACKEND=smtp, EMAIL_HOST/EMAIL_PORT pointing at it),
  which counts every message by its Message-ID and can refuse mail.

The web and beat run under bin/serve as `make stack` runs them; the worker runs in a process group of
its own, so that it can be killed and started again. Paced traffic (bench.load's users and mix) runs all
along. The scenarios, in order, each bounded in time:

1. kill-worker: RECHARGES new accounts fall below their trigger (beat's sweep sends their recharges),
   then three Excel exports of 28 days are asked for; once an export is being built, while recharges
   are under way, `kill -9` of the worker's whole process group; a new worker is started 5 s later.
2. redis: the broker is shut down for 20 s (SIGTERM: it saves its data, as a restart does) while
   traffic, fundings and new recharges go on, then started again.
3. database: `pg_terminate_backend` of every connection to this database but the script's own, three
   times, 10 s apart; the web's log tells how many requests lost their connection partway and were
   served again, or answered 503 (credits_site.middleware).
4. smtp: the SMTP server answers 451 to every recipient for 60 s while fundings send their emails.

Afterwards (waiting at most SETTLE_SECONDS for the periodic tasks) it checks: every ledger reconciles
(billing.services.reconciliation.find_mismatches), every recharge and funding was charged once at the
gateway, every notification was delivered once (by Message-ID at the SMTP server), every export is
finished or says it failed, and no recharge, payment, delivery or export is left waiting.
The periodic sweeps run every 10 s here (AUTO_RECHARGE_SWEEP_SECONDS, NOTIFICATIONS_SWEEP_SECONDS), a
claim left by a dead worker is taken back after 120 s (NOTIFICATIONS_STALE_CLAIM_SECONDS) or 60 s
without progress (USAGE_EXPORT_STALE_SECONDS), so that the run stays short; the rest is production's.
"""

import argparse
import datetime
import email
import json
import os
import shlex
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import Counter
from pathlib import Path
from unittest import mock

from bench import load

ROOT = load.ROOT
VAR = ROOT / "var" / "faults"
DOCS = load.DOCS
START, END = "<!-- faults-bench:start -->", "<!-- faults-bench:end -->"
REDIS_PORT = int(os.environ.get("REDIS_PORT", "6390"))
RECHARGES = 300
SETTLE_SECONDS = int(os.environ.get("FAULTS_SETTLE_SECONDS", "300"))
SCENARIOS = ("kill-worker", "redis", "database", "smtp")


def log(message):
    print(f"faults {datetime.datetime.now(datetime.UTC):%H:%M:%S}: {message}", file=sys.stderr, flush=True)


# The servers of this run -------------------------------------------------------------------------------


class Redis:
    def __init__(self, port, folder):
        self.port, self.folder = port, folder
        self.process = None

    def start(self):
        self.folder.mkdir(parents=True, exist_ok=True)
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--dir", str(self.folder), "--save", "60 1",
             "--appendonly", "no", "--protected-mode", "yes"],
            stdout=open(self.folder / "redis.log", "ab"), stderr=subprocess.STDOUT, process_group=0,
        )
        load.wait_for(lambda: self.ping(), 20, "redis did not start")

    def ping(self):
        import redis

        try:
            return redis.Redis(port=self.port, socket_timeout=1).ping()
        except redis.RedisError:
            return False

    def stop(self):
        if self.process and self.process.poll() is None:
            self.process.terminate()  # SIGTERM: Redis saves its data and exits, as a restart does
            self.process.wait(30)


class Smtp:
    """aiosmtpd on a loopback port: counts each message by its Message-ID; refuses mail while `refusing`."""

    def __init__(self):
        from aiosmtpd.controller import Controller

        self.refusing = False
        self.received = Counter()
        self.refused = 0
        self.lock = threading.Lock()
        self.port = free_port()
        self.controller = Controller(self, hostname="127.0.0.1", port=self.port)

    async def handle_RCPT(self, server, session, envelope, address, rcpt_options):
        if self.refusing:
            with self.lock:
                self.refused += 1
            return "451 4.3.2 Not accepting mail right now (bench.faults)"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server, session, envelope):
        message = email.message_from_bytes(envelope.content)
        with self.lock:
            self.received[message.get("Message-ID", "").strip()] += len(envelope.rcpt_tos)
        return "250 Message accepted"

    def start(self):
        self.controller.start()
        return self

    def stop(self):
        self.controller.stop()


def free_port():
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Worker:
    """The Procfile's worker line, in a process group of its own."""

    def __init__(self, command, env, log_path):
        self.command, self.env, self.log_path = command, env, log_path
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["/bin/sh", "-c", self.command], cwd=ROOT, env=self.env, process_group=0,
            stdout=open(self.log_path, "ab"), stderr=subprocess.STDOUT,
        )
        return self

    def kill9(self):
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self):
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait()


def procfile():
    return dict(line.split(":", 1) for line in (ROOT / "Procfile").read_text().splitlines() if line.strip() and not line.startswith("#"))


# What the faults are done to ------------------------------------------------------------------------------


def setup_django(env):
    os.environ.update(env)
    os.environ["LOG_LEVEL"] = "WARNING"
    sys.path.insert(0, str(ROOT))
    import django

    django.setup()


def arm_recharges(count, prefix):
    """`count` new organizations with a sandbox card, auto-recharge on and a balance below the trigger,
    through the ledger service: each commit asks the worker for a recharge, as in production."""
    from decimal import Decimal

    from billing import services
    from billing.gateways.sandbox import sandbox_token
    from billing.models import AutoRechargePolicy, Organization, PaymentMethod

    ids = []
    for i in range(count):
        org = Organization.objects.create(
            name=f"Faults {prefix} {i}", slug=f"faults-{prefix}-{i}", country="US", billing_region="US",
            purchase_channel="web_direct", commerce_model="traditional",
        )
        card = PaymentMethod.objects.create(
            organization=org, brand="visa", last4="4242", exp_month=12, exp_year=2035, gateway_token=sandbox_token("ok")
        )
        account = org.credit_account
        AutoRechargePolicy.objects.filter(account=account).update(
            enabled=True, amount=Decimal("50.00"), trigger=Decimal("20.00"), payment_method=card
        )
        services.post_entry(account_id=account.pk, kind="adjustment", amount=Decimal("30.00"), idempotency_key="seed")
        services.charge_usage(account_id=account.pk, amount=Decimal("15.00"), idempotency_key="call")  # 15 < 20: due
        ids.append(account.pk)
    return ids


def start_exports(count):
    """Excel exports of the last 28 days (tens of thousands of rows each: built by the worker)."""
    from django.contrib.auth import get_user_model

    from billing.models import Organization
    from usage.selectors import parameters_for, summary
    from usage.services.exports import requesting

    org = Organization.objects.get(slug=load.ORG_SLUG)
    user = get_user_model().objects.get(username=load.USER_EMAIL.format(1))
    today = datetime.datetime.now(datetime.UTC).date()
    start = today - datetime.timedelta(days=27)
    rows = summary(org, "pstn", start, today).records
    return [
        requesting.request_export(organization=org, user=user, export_format="xlsx",
                                  parameters=parameters_for("pstn", start, today, {}), rows_total=rows).pk
        for _ in range(count)
    ]


def terminate_connections(database_url):
    import psycopg

    with psycopg.connect(database_url.replace("postgres://", "postgresql://"), autocommit=True) as conn:
        return conn.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()"
        ).fetchone()[0]


def close_db():
    from django.db import connections

    connections.close_all()


# The checks ------------------------------------------------------------------------------------------------


def state(since, armed):
    """What is still waiting, and what went wrong, for the work started since `since`."""
    from django.db.models import Count

    from billing.choices import PaymentPurpose, PaymentStatus
    from billing.models import AutoRechargeState, Payment
    from notifications.models import Delivery, DeliveryStatus
    from usage.choices import ExportStatus
    from usage.models import Export

    close_db()  # a fresh connection: the checks must not fail on one terminated by the faults
    payments = Payment.objects.filter(created_at__gte=since)
    deliveries = Delivery.objects.filter(event__occurred_at__gte=since)
    exports = Export.objects.filter(created_at__gte=since)
    return {
        "recharges due": AutoRechargeState.objects.filter(account_id__in=armed, due_since__isnull=False).count(),
        "payments by status": dict(payments.values("status").annotate(n=Count("pk")).values_list("status", "n")),
        "payments waiting": payments.filter(status__in=[PaymentStatus.PENDING, PaymentStatus.PROCESSING]).count(),
        "recharge payments": payments.filter(purpose=PaymentPurpose.RECHARGE).count(),
        "deliveries by status": dict(deliveries.values("status").annotate(n=Count("pk")).values_list("status", "n")),
        "deliveries waiting": deliveries.filter(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING]).count(),
        "exports by status": dict(exports.values("status").annotate(n=Count("pk")).values_list("status", "n")),
        "exports waiting": exports.filter(status__in=[ExportStatus.PENDING, ExportStatus.RUNNING]).count(),
    }


def settled(current):
    return not (current["recharges due"] or current["payments waiting"] or current["deliveries waiting"] or current["exports waiting"])


def wait_until_settled(since, armed, seconds):
    deadline = time.monotonic() + seconds
    while True:
        current = state(since, armed)
        if settled(current) or time.monotonic() >= deadline:
            return current
        time.sleep(5)


def final_checks(since, armed, smtp):
    from billing.choices import PaymentPurpose, PaymentStatus
    from billing.gateways.sandbox import SandboxCharge
    from billing.models import Payment
    from billing.services.reconciliation import find_mismatches
    from notifications.emails import message_id
    from notifications.models import Delivery, DeliveryStatus
    from usage.choices import ExportStatus
    from usage.models import Export

    close_db()
    checks = {}
    mismatches = find_mismatches()
    checks["ledgers reconcile"] = (not mismatches, f"{len(mismatches)} mismatches" + (f": {mismatches[:5]}" if mismatches else ""))
    payments = Payment.objects.filter(created_at__gte=since)
    succeeded = list(payments.filter(status=PaymentStatus.SUCCEEDED).values_list("idempotency_key", "purpose", "entry_id"))
    charges = Counter(SandboxCharge.objects.filter(idempotency_key__in=[k for k, _, _ in succeeded]).values_list("idempotency_key", flat=True))
    twice = [k for k, n in charges.items() if n > 1]
    uncharged = [k for k, _, _ in succeeded if not charges.get(k)]
    uncredited = [k for k, _, entry in succeeded if entry is None]
    per_account = Counter(payments.filter(purpose=PaymentPurpose.RECHARGE, status=PaymentStatus.SUCCEEDED, account_id__in=armed)
                          .values_list("account_id", flat=True))
    recharged_twice = [a for a, n in per_account.items() if n > 1]
    missing = [a for a in armed if not per_account.get(a)]
    recharges = sum(1 for _, purpose, _ in succeeded if purpose == PaymentPurpose.RECHARGE)
    fundings = sum(1 for _, purpose, _ in succeeded if purpose == PaymentPurpose.FUNDING)
    checks["every recharge charged once"] = (
        not (recharged_twice or missing or twice or uncharged or uncredited),
        f"{recharges} recharges of {len(armed)} accounts below their trigger, {fundings} fundings; accounts recharged "
        f"twice: {len(recharged_twice)}, never: {len(missing)}; payments charged twice: {len(twice)}, succeeded without a "
        f"charge: {len(uncharged)}, without a credit: {len(uncredited)}",
    )
    deliveries = list(Delivery.objects.filter(event__occurred_at__gte=since))
    by_status = Counter(d.status for d in deliveries)
    sent = [d for d in deliveries if d.status == DeliveryStatus.SENT]
    ids = {d.pk: message_id(d).strip() for d in deliveries}
    lost = [d.pk for d in sent if not smtp.received.get(ids[d.pk])]
    duplicated = [d.pk for d in deliveries if smtp.received.get(ids[d.pk], 0) > 1]
    received_unsent = [d.pk for d in deliveries if d.status != DeliveryStatus.SENT and smtp.received.get(ids[d.pk])]
    checks["every notification delivered once"] = (
        not (lost or duplicated or received_unsent or by_status.get(DeliveryStatus.PENDING) or by_status.get(DeliveryStatus.SENDING)),
        f"{len(deliveries)} deliveries ({dict(by_status)}); sent but not received: {len(lost)}, received more than once: "
        f"{len(duplicated)}, received but not marked sent: {len(received_unsent)}; {smtp.refused} recipients refused while the "
        "SMTP server refused mail",
    )
    exports = list(Export.objects.filter(created_at__gte=since))
    ex_status = Counter(e.status for e in exports)
    silent_failures = [e.pk for e in exports if e.status == ExportStatus.FAILED and not e.error]
    checks["every export finished or says it failed"] = (
        not (ex_status.get(ExportStatus.PENDING) or ex_status.get(ExportStatus.RUNNING) or silent_failures),
        f"{len(exports)} exports: {dict(ex_status)}" + (f"; failed without a reason: {silent_failures}" if silent_failures else ""),
    )
    return checks


# The run -----------------------------------------------------------------------------------------------------


def run(args):
    database_url = os.environ.get("DATABASE_URL", load.DEFAULT_DATABASE_URL)
    broker_url = f"redis://127.0.0.1:{REDIS_PORT}/0"
    VAR.mkdir(parents=True, exist_ok=True)
    smtp = Smtp().start()
    sweeps = {"AUTO_RECHARGE_SWEEP_SECONDS": "10", "NOTIFICATIONS_SWEEP_SECONDS": "10",
              "NOTIFICATIONS_STALE_CLAIM_SECONDS": "120", "USAGE_EXPORT_STALE_SECONDS": "60"}
    env = load.stack_env(database_url, broker_url, args.port, {
        "EMAIL_BACKEND": "smtp", "EMAIL_HOST": "127.0.0.1", "EMAIL_PORT": str(smtp.port), "EMAIL_USE_TLS": "false",
        "EMAIL_TIMEOUT": "5", **sweeps,
    })
    if not args.no_prepare:
        load.prepare(env, args.rows)
    setup_django(env)
    redis_server = Redis(REDIS_PORT, VAR / "redis")
    lines = procfile()
    web_and_beat = load.Stack(env, args.port, VAR / "stack.log", entries=[f"web: {lines['web'].strip()}", f"beat: {lines['beat'].strip()}"])
    worker = Worker(lines["worker"].strip(), env, VAR / "worker.log")
    since = datetime.datetime.now(datetime.UTC)
    started = time.monotonic()
    scenarios, armed = [], []
    scenarios_done = False
    recorder = load.Recorder(budget=10**9)
    traffic = None
    try:
        redis_server.start()
        import redis

        redis.Redis(port=REDIS_PORT).flushdb()
        worker.start()
        web_and_beat.start()
        today = since.date()
        base = f"http://127.0.0.1:{args.port}"
        traffic = threading.Thread(target=load.load_run, args=(base, args.users, 10**9, (1.0, 5.0), today, recorder))
        traffic.start()
        load.wait_for(lambda: recorder.recording, 120, "the users did not sign in")
        time.sleep(10)

        def scenario(name, done, fn):
            if name not in args.scenarios:
                return
            log(f"scenario {name}")
            errors_before, t0 = sum(recorder.errors.values()), time.monotonic()
            found = fn() or {}
            after = wait_until_settled(since, armed, args.settle)
            scenarios.append({
                "name": name, "done": done, "seconds": round(time.monotonic() - t0),
                "traffic errors": sum(recorder.errors.values()) - errors_before,
                "error samples": recorder.error_samples[-5:] if sum(recorder.errors.values()) > errors_before else [],
                "settled": settled(after), "after": after, **found,
            })
            log(f"  {scenarios[-1]}")

        def kill_worker():
            # Armed without their on-commit messages: beat's next sweep (10 s) sends them all at once.
            with mock.patch("billing.receivers.enqueue_recharge_on_commit"):
                kill_armed = arm_recharges(RECHARGES, f"kill{int(time.time())}")
            armed.extend(kill_armed)
            from billing.models import Payment
            from usage.models import Export

            load.wait_for(lambda: Payment.objects.filter(account_id__in=kill_armed).exists(), 300, "the sweep sent no recharge")
            exports = start_exports(3)
            load.wait_for(lambda: Export.objects.filter(pk__in=exports, status="running").exists(), 120, "no export started")
            time.sleep(1)
            before = state(since, armed)
            worker.kill9()
            log(f"  killed the worker (-9) with {before}")
            time.sleep(5)
            worker.start()
            return {"at the kill": before}

        scenario("kill-worker", f"{RECHARGES} accounts below their trigger (recharges sent by the sweep), then 3 Excel exports "
                 "of 28 days; kill -9 of the worker's process group once an export was being built; a new worker 5 s later",
                 kill_worker)

        def restart_redis():
            redis_server.stop()
            log("  redis stopped")
            armed.extend(arm_recharges(50, f"redis{int(time.time())}"))
            time.sleep(20)
            redis_server.start()
            log("  redis started")
            return {}

        scenario("redis", "Redis (the broker) shut down for 20 s while traffic went on and 50 accounts fell below their "
                 "trigger, then started again", restart_redis)

        def database():
            # The web's log says which requests lost their connection partway (credits_site.middleware).
            stack_log = VAR / "stack.log"
            offset = stack_log.stat().st_size
            counts = []
            for _ in range(3):
                counts.append(terminate_connections(database_url))
                time.sleep(10)
            close_db()
            logged = stack_log.read_bytes()[offset:].decode(errors="replace")
            return {"connections terminated": counts,
                    "requests served again on a new connection": logged.count("database connection lost; served again"),
                    "requests answered 503 for a lost connection": logged.count("database connection lost; answered 503")}

        scenario("database", "pg_terminate_backend of every connection to the database, three times 10 s apart", database)

        def smtp_refusing():
            smtp.refusing = True
            time.sleep(60)
            smtp.refusing = False
            return {}

        scenario("smtp", "the SMTP server answered 451 to every recipient for 60 s while fundings sent their emails", smtp_refusing)
        scenarios_done = True
    finally:
        recorder.stop.set()
        if traffic:
            traffic.join(60)
        try:
            if scenarios_done:
                final = wait_until_settled(since, armed, args.settle)
                checks = final_checks(since, armed, smtp)
        finally:
            # Whatever happened above, nothing this run started outlives it.
            for stop in (web_and_beat.stop, worker.stop, redis_server.stop, smtp.stop):
                try:
                    stop()
                except Exception as error:  # noqa: BLE001 - the others must still be stopped
                    log(f"while stopping: {error!r}")
    every = [ms for times in recorder.times.values() for ms in times]
    return {
        "since": since.isoformat(), "seconds": round(time.monotonic() - started), "scenarios": scenarios, "final": final,
        "checks": {k: {"ok": ok, "detail": detail} for k, (ok, detail) in checks.items()},
        "traffic": {"requests": len(every), "errors": sum(recorder.errors.values()), "by kind": dict(recorder.errors),
                    "samples": recorder.error_samples},
    }


def markdown(result, machine, command):
    lines = [f"Run {result['since'][:16].replace('T', ' ')} UTC on {machine} with `{command}` ({result['seconds']} s).", ""]
    lines += ["| scenario | what was done | traffic errors | settled afterwards | what it found |", "| --- | --- | ---: | --- | --- |"]
    for s in result["scenarios"]:
        extra = {k: v for k, v in s.items() if k not in ("name", "done", "seconds", "traffic errors", "error samples", "settled", "after")}
        found = "; ".join(f"{k}: {v}" for k, v in extra.items()) or ""
        lines.append(f"| {s['name']} | {s['done']} | {s['traffic errors']} | {'yes' if s['settled'] else 'no: ' + json.dumps(s['after'])} | {found} |")
    lines += ["", "| check | result | detail |", "| --- | --- | --- |"]
    for name, check in result["checks"].items():
        lines.append(f"| {name} | {'ok' if check['ok'] else '**FAILED**'} | {check['detail']} |")
    t = result["traffic"]
    lines += ["", f"Traffic during the run: {t['requests']:,} requests, {t['errors']} errors ({t['by kind']})."]
    return "\n".join(lines)


def main(argv=None):
    load.stop_on_term()
    parser = argparse.ArgumentParser(prog="python -m bench.faults", description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=20)
    parser.add_argument("--rows", type=int, default=int(os.environ.get("LOAD_ROWS", load.ROWS)))
    parser.add_argument("--port", type=int, default=int(os.environ.get("FAULTS_PORT", 8766)))
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), type=lambda s: [x.strip() for x in s.split(",") if x.strip()])
    parser.add_argument("--settle", type=int, default=SETTLE_SECONDS, help="seconds to wait for the periodic tasks after each scenario")
    parser.add_argument("--no-prepare", action="store_true")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--json", help="also write the result to this file")
    args = parser.parse_args(argv)
    if not os.environ.get("DATABASE_URL", load.DEFAULT_DATABASE_URL).startswith("postgres"):
        print("Skipped: the faults run needs PostgreSQL (DATABASE_URL=postgres://...).")
        return 0
    machine = load.machine_line()
    result = run(args)
    command = "python -m bench.faults " + " ".join(shlex.quote(a) for a in (argv if argv is not None else sys.argv[1:]))
    text = markdown(result, machine, command.strip())
    print(text)
    if args.json:
        Path(args.json).write_text(json.dumps(result, indent=1, default=str))
    if args.write_docs:
        block = f"{START}\n{text}\n{END}"
        doc = DOCS.read_text()
        doc = doc.split(START)[0] + block + doc.split(END, 1)[1] if START in doc else doc.rstrip() + "\n\n" + block + "\n"
        DOCS.write_text(doc)
    return 0 if all(c["ok"] for c in result["checks"].values()) else 1


if __name__ == "__main__":
    sys.exit(main())
