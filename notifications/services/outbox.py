"""Recording an event and its deliveries, in the caller's transaction, and handing them to Celery on commit."""

import logging
import math
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from functools import partial

from django.db import IntegrityError, models, transaction
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from billing.money import format_money

from .. import conf, events, selectors
from ..models import Delivery, Event

logger = logging.getLogger(__name__)

# A broker that is down must not hold up the request that committed: one quick try, then the sweep.
ENQUEUE_RETRY_POLICY = {"max_retries": 1, "interval_start": 0, "interval_step": 0.2, "interval_max": 0.2}


class UnknownEvent(ValueError):
    pass


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def _json_safe(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [_json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    return str(value)


def _parse_iso(value: str):
    """Senders may give times as ISO strings (`"resumes_at": "2026-12-01T00:00:00+00:00"`): show them too."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return value
    if len(value) == 10:
        return parsed.date()
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def build_context(event_type, *, organization, account, context, occurred_at, balance=None) -> dict:
    """What the email will say, frozen now: JSON-safe values, plus `<key>_display` for amounts and dates."""
    currency = account.currency if account is not None else organization.currency
    data = {}
    for key, value in (context or {}).items():
        data[key] = _json_safe(value)
        if isinstance(value, str) and key.endswith(("_at", "_on")):
            value = _parse_iso(value)
        if key in event_type.money_keys and value not in (None, ""):
            data[f"{key}_display"] = format_money(Decimal(str(value)), currency)
        elif isinstance(value, datetime):
            data[f"{key}_display"] = format_time(value)
        elif isinstance(value, date):
            data[f"{key}_display"] = f"{value.day} {value:%B %Y}"
    data["organization_name"] = organization.name
    data["currency"] = currency
    if balance is None and account is not None:
        balance = account.balance
    if balance is not None:
        data["balance"] = str(balance)
        data["balance_display"] = format_money(balance, currency)
    data["occurred_at"] = occurred_at.isoformat()
    data["occurred_at_display"] = format_time(occurred_at)
    return data


def safe_path(path: str) -> str:
    """Only a path on this site: never another host, so an email link cannot be turned into phishing."""
    path = (path or "").strip()
    if not path.startswith("/") or path.startswith("//") or "\\" in path:
        raise ValueError(f"{path!r} is not a path on this site.")
    return path


def link_for(event_type, account, data) -> str:
    if data.get("link_path"):
        return safe_path(data["link_path"])
    link = event_type.link
    if callable(link):
        return safe_path(link(account, data))
    try:
        return reverse(link)
    except NoReverseMatch:
        return "/"


def render_summary(event_type, data) -> str:
    subject = render_to_string(event_type.template("subject.txt"), data)
    return " ".join(subject.split())[:300]


def recipients_for(event_type, organization, requested_by=None):
    if event_type.audience == events.Audience.SUPPORT:
        return selectors.support_recipients(conf.support_emails())
    if event_type.audience == events.Audience.REQUESTER:
        return selectors.requester_recipient(organization.pk, requested_by)
    return selectors.role_recipients(organization.pk, selectors.enabled_roles(organization.pk, event_type))


def record_event(
    *, kind, organization, context=None, account=None, balance=None, dedupe_key=None, requested_by=None, occurred_at=None
) -> Event | None:
    """Record one event and a pending delivery per recipient, in the caller's transaction.

    `balance` is the balance the email reports (default: the account's, which must then be current).
    Returns None when this occurrence was recorded before (same dedupe key): nothing new is sent.
    Delivery is handed to Celery only once the caller's transaction commits; a rollback sends nothing.
    """
    event_type = events.get(kind)
    if event_type is None:
        raise UnknownEvent(f"No notification is registered for {kind!r}.")
    now = timezone.now()
    occurred_at = occurred_at or now
    context = dict(context or {})
    if dedupe_key is None and context.get("dedupe_key"):
        dedupe_key = str(context.pop("dedupe_key"))
    if dedupe_key is None and event_type.dedupe is not None:
        dedupe_key = event_type.dedupe(account, context, now)
    key = f"{kind}:{organization.pk}:{dedupe_key if dedupe_key else uuid.uuid4()}"
    data = build_context(
        event_type, organization=organization, account=account, context=context, occurred_at=occurred_at, balance=balance
    )
    link_path = link_for(event_type, account, data)
    summary = render_summary(event_type, data)
    try:
        with transaction.atomic():
            event = Event.objects.create(
                organization=organization,
                kind=kind,
                audience=event_type.audience,
                dedupe_key=key[:255],
                context=data,
                summary=summary,
                link_path=link_path,
                requested_by=requested_by,
                occurred_at=occurred_at,
            )
            recipients = recipients_for(event_type, organization, requested_by)
            Delivery.objects.bulk_create(
                [
                    Delivery(
                        event=event,
                        recipient_id=r.user_id,
                        email=r.email,
                        recipient_name=r.name[:300],
                        roles=",".join(r.roles),
                        next_attempt_at=now,
                    )
                    for r in recipients
                ]
            )
    except IntegrityError:
        if Event.objects.filter(dedupe_key=key[:255]).exists():
            return None
        raise
    if recipients:
        transaction.on_commit(partial(enqueue_event, event.pk, len(recipients)))
    return event


def enqueue_event(event_id, delivery_count=1):
    """Ask Celery to send the event's deliveries. If the broker is down the rows wait for the sweep."""
    from ..tasks import send_event_deliveries_task

    copies = max(1, min(conf.parallel_sends(), math.ceil(delivery_count / conf.batch_size())))
    try:
        for _ in range(copies):
            send_event_deliveries_task.apply_async((event_id,), retry=True, retry_policy=ENQUEUE_RETRY_POLICY)
    except Exception:  # noqa: BLE001 - any broker failure: the periodic sweep sends what is pending
        logger.warning("Could not enqueue notification event %s; the periodic sweep will send it.", event_id)
