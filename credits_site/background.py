"""What every app's background work shares: one back-off rule, and one way to hand a task to the broker
without letting a broker outage hold up the request or the task that asked.

Work handed over here is always also recorded in the database (an account due for a recharge, a
pending delivery, an export waiting to be built), so a message that cannot be sent is picked up by
the periodic sweep of its app: nothing is lost, it only waits.
"""

import logging
from contextlib import contextmanager

from kombu.exceptions import KombuError

logger = logging.getLogger(__name__)

# One quick retry, then give up: kombu's default back-off would hold the caller for some six seconds.
BROKER_CONNECT_RETRIES = 1
BROKER_CONNECT_TIMEOUT = 2  # seconds
BROKER_POOL_TIMEOUT = 5  # seconds to wait for a free connection in the pool


def backoff_seconds(attempts_so_far: int, *, base: float, cap: float) -> float:
    """`base` after the first attempt, then twice as long after each further one, never more than `cap`."""
    return min(cap, base * 2 ** max(0, attempts_so_far - 1))


def send_task(task, args=(), *, countdown=None, producer=None) -> bool:
    """Send `task(*args)` to the broker, failing fast when the broker is down. True when it was sent.

    Run inline when Celery is eager (tests, a newcomer's settings). `producer`: a producer already
    holding a connection, to send many messages over one (the sweeps).
    """
    try:
        if task.app.conf.task_always_eager:
            return _run_inline(task, args, countdown)
        if producer is not None:
            task.apply_async(args, countdown=countdown, producer=producer, retry=False)
            return True
        with task.app.pool.acquire(block=True, timeout=BROKER_POOL_TIMEOUT) as connection:
            connection.ensure_connection(
                max_retries=BROKER_CONNECT_RETRIES,
                interval_start=0,
                interval_step=0.2,
                interval_max=0.2,
                timeout=BROKER_CONNECT_TIMEOUT,
            )
            task.apply_async(args, countdown=countdown, retry=False, connection=connection)
    except (KombuError, OSError):
        logger.warning("Could not send %s%r to the broker; the periodic sweep will pick it up.", task.name, tuple(args))
        return False
    return True


def _run_inline(task, args, countdown) -> bool:
    """Celery is eager: the task runs here and now. With `task_eager_propagates` (the tests) its failure
    reaches the caller, so that no test misses it; otherwise, as on a worker, the failure is the task's
    to report (its work stays recorded for the sweep), never an error of the caller that only asked."""
    try:
        task.apply_async(args, countdown=countdown)
    except (KombuError, OSError):
        raise  # sending it failed (a test stands in for a broker that is down): the caller's warning
    except Exception:
        if task.app.conf.task_eager_propagates:
            raise
        logger.exception("%s%r failed when run inline; the periodic sweep will pick it up.", task.name, tuple(args))
    return True


@contextmanager
def one_connection(task):
    """A producer that sends many messages over one connection (None when Celery runs tasks inline)."""
    if task.app.conf.task_always_eager:
        yield None
        return
    with task.app.producer_or_acquire() as producer:
        yield producer
