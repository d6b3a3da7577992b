"""Sending: claim due deliveries, send each once over one SMTP connection per batch, record the outcome.

A delivery is claimed with a conditional UPDATE (status pending -> sending, with a fresh claim token)
after picking candidates with `select_for_update(skip_locked=True)`, so tasks running twice, the sweep
and the per-event task, or several workers never claim the same row. Email is sent outside any
transaction. A claim left behind by a worker that died is taken back after `stale_claim_seconds`; that
is the only way a message can go out twice, and it carries the same Message-ID both times. A message
that has left is recorded even when the database connection is lost just then (a failover, a restart,
`pg_terminate_backend`): `mark_sent` replaces the connection and tries again for about 30 seconds,
since a send left unrecorded would be sent again once its claim went stale.
"""

import logging
import smtplib
import time
import uuid
from dataclasses import dataclass, field
from datetime import timedelta

from django.core.mail import mailers
from django.db import InterfaceError, OperationalError, transaction
from django.db import connection as database
from django.db.models import F, Min
from django.utils import timezone

from credits_site.background import backoff_seconds
from credits_site.database import is_connection_loss

from .. import conf
from ..emails import build_message
from ..models import Delivery, DeliveryFailure, DeliveryStatus

logger = logging.getLogger(__name__)


@dataclass
class DeliveryRun:
    sent: int = 0
    retrying: int = 0
    failed: int = 0
    # More deliveries were due when the time budget ran out: the caller should continue at once.
    more_due: bool = False
    # The earliest retry still waiting in this scope, if any.
    next_due_at: object = None
    errors: list = field(default_factory=list)


@dataclass(frozen=True)
class Failure:
    error: str
    smtp_code: int | None
    permanent: bool
    # The connection cannot be used for the rest of the batch.
    connection_lost: bool


def classify(error: Exception) -> Failure:
    """Transient (retry later) or permanent (a 5xx answer about this message); connection-level or not."""
    if isinstance(error, smtplib.SMTPRecipientsRefused):
        codes = [code for code, _ in error.recipients.values()]
        return Failure(f"Recipient refused: {error.recipients}", min(codes) if codes else None, all(c >= 500 for c in codes), False)
    if isinstance(error, smtplib.SMTPAuthenticationError):
        # Our credentials, not this message: keep it for when the settings are fixed.
        return Failure(f"SMTP authentication failed ({error.smtp_code}).", error.smtp_code, False, True)
    if isinstance(error, smtplib.SMTPResponseException):
        message = error.smtp_error.decode(errors="replace") if isinstance(error.smtp_error, bytes) else str(error.smtp_error)
        return Failure(f"{error.smtp_code} {message}", error.smtp_code, 500 <= error.smtp_code < 600, False)
    if isinstance(error, (smtplib.SMTPServerDisconnected, OSError)):
        return Failure(f"Mail server unreachable: {error!r}", None, False, True)
    if isinstance(error, smtplib.SMTPException):
        return Failure(f"SMTP error: {error!r}", None, False, True)
    if isinstance(error, ValueError):
        # An address the backend cannot send to: trying again will not help; support sees it.
        return Failure(f"Invalid message or address: {error}", None, True, False)
    return Failure(f"Mail backend error: {error!r}", None, False, True)


def release_stale_claims(now=None) -> int:
    now = now or timezone.now()
    cutoff = now - timedelta(seconds=conf.stale_claim_seconds())
    return Delivery.objects.filter(status=DeliveryStatus.SENDING, claimed_at__lt=cutoff).update(
        status=DeliveryStatus.PENDING, claim_token=None, next_attempt_at=now
    )


def claim_batch(*, event_id=None, limit=None, now=None) -> tuple[uuid.UUID, list[Delivery]]:
    """Claim up to `limit` due deliveries for this caller alone. Returns the claim token and the rows."""
    now = now or timezone.now()
    limit = limit or conf.batch_size()
    due = Delivery.objects.filter(status=DeliveryStatus.PENDING, next_attempt_at__lte=now)
    if event_id is not None:
        due = due.filter(event_id=event_id)
    token = uuid.uuid4()
    with transaction.atomic():
        ids = list(
            due.order_by("next_attempt_at", "pk").select_for_update(skip_locked=True).values_list("pk", flat=True)[:limit]
        )
        if not ids:
            return token, []
        Delivery.objects.filter(pk__in=ids, status=DeliveryStatus.PENDING).update(
            status=DeliveryStatus.SENDING, claim_token=token, claimed_at=now, attempts=F("attempts") + 1
        )
    claimed = list(
        Delivery.objects.filter(claim_token=token, status=DeliveryStatus.SENDING)
        .select_related("event__organization")
        .order_by("pk")
    )
    return token, claimed


# Pauses before recording a send again after a lost database connection: about 30 s in all, long
# enough for a database restart or a quick failover; short enough that a sending task that met one near
# the end of its budget (50-60 s) still ends before its soft time limit (100-150 s, notifications.tasks).
RECORD_RETRY_PAUSES = (0.5, 1.0, 2.0, 4.0, 8.0, 15.0)


def mark_sent(delivery, token, now=None):
    """Record that the message left. Never inside a transaction (deliver_due checks), so a lost
    connection can be replaced here and the update tried again (see the module's note)."""
    sent_at = now or timezone.now()
    for pause in (*RECORD_RETRY_PAUSES, None):
        try:
            Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
                status=DeliveryStatus.SENT, sent_at=sent_at, claim_token=None, last_error=""
            )
            return
        except (OperationalError, InterfaceError) as error:
            if pause is None or database.in_atomic_block or not is_connection_loss(error):
                raise
            logger.warning("Recording delivery %s as sent lost the database connection; trying again in %s s", delivery.pk, pause)
            database.close()
            time.sleep(pause)


def mark_failed(deliveries, token, failure: Failure, now=None) -> tuple[int, int]:
    """Record a failed attempt: back to pending with back-off, or failed for good. Returns (retrying, failed)."""
    now = now or timezone.now()
    retrying = failed = 0
    records = []
    for delivery in deliveries:
        final = failure.permanent or delivery.attempts >= conf.max_attempts()
        retry_at = None if final else now + timedelta(seconds=backoff_seconds(delivery.attempts, base=conf.retry_base_seconds(), cap=conf.retry_max_seconds()))
        Delivery.objects.filter(pk=delivery.pk, claim_token=token).update(
            status=DeliveryStatus.FAILED if final else DeliveryStatus.PENDING,
            next_attempt_at=retry_at or now,
            claim_token=None,
            last_error=failure.error[:2000],
        )
        records.append(
            DeliveryFailure(
                delivery=delivery,
                attempt=delivery.attempts,
                at=now,
                error=failure.error[:2000],
                smtp_code=failure.smtp_code,
                permanent=final,
                retry_at=retry_at,
            )
        )
        if final:
            failed += 1
        else:
            retrying += 1
    DeliveryFailure.objects.bulk_create(records)
    return retrying, failed


def send_claimed(deliveries, token, run: DeliveryRun) -> bool:
    """Send a claimed batch over one connection. A lost connection ends the batch: the rest wait their turn.

    Returns False when the connection was lost (the server is down or refusing us)."""
    connection = mailers.default
    opened = False
    try:
        for index, delivery in enumerate(deliveries):
            try:
                message = build_message(delivery)
            except Exception as error:  # noqa: BLE001 - a template or data problem: retrying will not help
                failure = Failure(f"Could not build the message: {error!r}", None, True, False)
            else:
                try:
                    if not opened:
                        # Opened once: send_messages() on a closed backend would connect and quit per message.
                        connection.open()
                        opened = True
                    connection.send_messages([message])
                    failure = None
                except Exception as error:  # noqa: BLE001 - every failure is recorded, never lost
                    failure = classify(error)
            if failure is not None:
                logger.warning("Notification delivery %s failed: %s", delivery.pk, failure.error)
                run.errors.append(failure.error)
                rest = deliveries[index:] if failure.connection_lost else [delivery]
                retrying, failed = mark_failed(rest, token, failure)
                run.retrying += retrying
                run.failed += failed
                if failure.connection_lost:
                    return False
                continue
            mark_sent(delivery, token)
            run.sent += 1
        return True
    finally:
        try:
            connection.close()
        except Exception:  # noqa: BLE001 - closing a broken connection must not hide the outcome
            pass


def deliver_due(*, event_id=None, budget_seconds=60.0, batch_size=None) -> DeliveryRun:
    """Send due deliveries (of one event, or all) in batches until none is due or the budget is spent."""
    if transaction.get_connection().in_atomic_block:
        raise RuntimeError("Email is never sent inside a transaction.")
    run = DeliveryRun()
    started = time.monotonic()
    while True:
        token, batch = claim_batch(event_id=event_id, limit=batch_size)
        if not batch:
            break
        if not send_claimed(batch, token, run):
            # The server is down or refusing us: stop here, the back-off decides when to try again.
            break
        if time.monotonic() - started > budget_seconds:
            run.more_due = True
            break
    pending = Delivery.objects.filter(status=DeliveryStatus.PENDING)
    if event_id is not None:
        pending = pending.filter(event_id=event_id)
    run.next_due_at = pending.aggregate(at=Min("next_attempt_at"))["at"]
    return run


def send_event_deliveries(event_id, *, budget_seconds=60.0) -> DeliveryRun:
    return deliver_due(event_id=event_id, budget_seconds=budget_seconds)


def send_pending_deliveries(*, budget_seconds=50.0) -> DeliveryRun:
    """The safety net: whatever is due (a lost task, a broker outage, a retry), and claims of dead workers."""
    release_stale_claims()
    return deliver_due(budget_seconds=budget_seconds)
