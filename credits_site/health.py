"""Health endpoints for monitors and load balancers: no sign-in, no tenant data, short timeouts.

- /health/       the database and the broker answer (200), or which of them does not (503).
- /health/ready  this web process can serve: the database answers and every migration is applied.

Each check runs in a thread of its own on a fresh connection with its own timeouts, and the answer
never waits longer than HEALTH_CHECK_TIMEOUT for it: a server that accepts a connection and then
says nothing fails the probe instead of holding the web worker, and a stale persistent connection
of the request thread is neither used nor disturbed. The reason of a failure is logged; the public
answer names only the kind of error.
"""

import copy
import logging
import math
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout

from django.conf import settings
from django.contrib.auth.decorators import login_not_required
from django.db import connections
from django.db.migrations.executor import MigrationExecutor
from django.db.utils import load_backend
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe
from kombu import Connection

logger = logging.getLogger(__name__)


def timeout():
    return getattr(settings, "HEALTH_CHECK_TIMEOUT", 2.0)


class CheckFailed(Exception):
    """A check that ran and found a problem; its text is the public answer (no server details)."""


def fresh_database_connection(alias="default"):
    """A new connection to the `alias` database that gives up after the health timeout."""
    # The configured settings, not connections[alias]: that would make a wrapper for this thread.
    settings_dict = copy.deepcopy(connections.settings[alias])
    options = settings_dict.setdefault("OPTIONS", {})
    options.pop("pool", None)  # one connection, closed after the check: no pool for it
    engine = settings_dict["ENGINE"]
    if "postgresql" in engine:
        options["connect_timeout"] = max(1, math.ceil(timeout()))
        statement_timeout = f"-c statement_timeout={int(timeout() * 1000)}"
        options["options"] = f"{options.get('options', '')} {statement_timeout}".strip()
    elif "sqlite" in engine:
        options["timeout"] = timeout()
    return load_backend(engine).DatabaseWrapper(settings_dict, alias)


def check_database(alias="default"):
    wrapper = fresh_database_connection(alias)
    try:
        with wrapper.cursor() as cursor:
            cursor.execute("SELECT 1")
            cursor.fetchone()
    finally:
        wrapper.close()


# Once every migration is applied it stays so for the life of this process (new migrations come
# with new code, hence a new process): later probes skip the migration graph.
_migrations_applied = False


def check_migrations(alias="default"):
    global _migrations_applied
    if _migrations_applied:
        return
    wrapper = fresh_database_connection(alias)
    try:
        executor = MigrationExecutor(wrapper)
        pending = executor.migration_plan(executor.loader.graph.leaf_nodes())
    finally:
        wrapper.close()
    if pending:
        raise CheckFailed(f"{len(pending)} migrations are not applied")
    _migrations_applied = True


def check_broker():
    seconds = timeout()
    transport_options = dict(getattr(settings, "CELERY_BROKER_TRANSPORT_OPTIONS", {}))
    if settings.CELERY_BROKER_URL.startswith(("redis://", "rediss://")):
        transport_options.update(socket_connect_timeout=seconds, socket_timeout=seconds)
    with Connection(settings.CELERY_BROKER_URL, connect_timeout=seconds, transport_options=transport_options) as broker:
        # One quick retry, no back-off: the probe itself is retried by whoever asks.
        broker.ensure_connection(max_retries=1, interval_start=0, interval_step=0, timeout=seconds)


def run_checks(checks):
    """{name: {"status": "ok"|"fail", ...}} for {name: callable}, all within one timeout."""
    results = {}
    pool = ThreadPoolExecutor(max_workers=len(checks), thread_name_prefix="health")
    started = time.monotonic()
    futures = {name: pool.submit(check) for name, check in checks.items()}
    try:
        for name, future in futures.items():
            remaining = max(0.0, timeout() - (time.monotonic() - started))
            try:
                future.result(timeout=remaining)
            except FutureTimeout:
                results[name] = _failure(name, "Timeout", f"no answer within {timeout()} s")
            except CheckFailed as problem:
                results[name] = _failure(name, str(problem))
            except Exception as exc:  # noqa: BLE001 - any error of the server or the driver is a failed check
                results[name] = _failure(name, type(exc).__name__, str(exc))
            else:
                results[name] = {"status": "ok"}
    finally:
        # A check still waiting for its server finishes on its own timeouts; nobody waits for it.
        pool.shutdown(wait=False, cancel_futures=True)
    return results


def _failure(name, error, detail=None):
    """The public answer names the error; the log line also says what the server or driver said."""
    logger.warning("Health check %s failed: %s", name, f"{error}: {detail}" if detail else error)
    return {"status": "fail", "error": error}


def health_response(checks):
    results = run_checks(checks)
    failed = [name for name, result in results.items() if result["status"] != "ok"]
    body = {"status": "fail" if failed else "ok", "failed": failed, "checks": results}
    return JsonResponse(body, status=503 if failed else 200)


@login_not_required
@never_cache
@require_safe
def health(request):
    return health_response({"database": check_database, "broker": check_broker})


@login_not_required
@never_cache
@require_safe
def ready(request):
    return health_response({"database": check_database, "migrations": check_migrations})
