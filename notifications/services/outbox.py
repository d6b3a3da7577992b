"""Recording an event and its deliveries, in the caller's transaction, and handing them to Celery on commit."""

import logging
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal

from django.db import IntegrityError, models, transaction
from django.dispatch import Signal
from django.template.loader import render_to_string
from django.urls import NoReverseMatch, reverse
from django.utils import timezone

from billing.money import format_money

from .. import conf, kinds, selectors
from ..models import Delivery, Event

logger = logging.getLogger(__name__)

# Sent with `event_id` and `delivery_count` when an event has deliveries to send: notifications'
# receivers enqueue them through notifications/tasks.py once the transaction commits.
deliveries_due = Signal()


def ask_for_delivery(event_id, delivery_count=1) -> None:
    deliveries_due.send(sender=Event, event_id=event_id, delivery_count=delivery_count)

class UnknownEvent(ValueError):
    pass


def format_time(value: datetime) -> str:
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")


def json_safe(value):
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    if isinstance(value, models.Model):
        return value.pk
    if value is None or isinstance(value, (str, int, float, bool)):
        return value
    if isinstance(value, (list, tuple, set, frozenset)):
        return [json_safe(v) for v in value]
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
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
        data[key] = json_safe(value)
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
    if event_type.audience == kinds.Audience.SUPPORT:
        return selectors.support_recipients(conf.support_emails())
    if event_type.audience == kinds.Audience.REQUESTER:
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
    event_type = kinds.get(kind)
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
        ask_for_delivery(event.pk, len(recipients))
    return event
