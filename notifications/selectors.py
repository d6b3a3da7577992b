"""Reads shared by dispatch, the pages and the tasks. Every tenant read is scoped to an organization."""

from dataclasses import dataclass

from django.db.models import Count, OuterRef, Prefetch, Q, Subquery
from django.db.models.functions import Coalesce

from billing.choices import AdminRole
from billing.models import MembershipRole

from . import kinds
from .models import Delivery, DeliveryStatus, Event, LowBalanceThreshold, RolePreference


@dataclass(frozen=True)
class Recipient:
    user_id: int | None
    email: str
    name: str
    roles: tuple = ()


def enabled_roles(organization_id, event_type) -> frozenset:
    """The roles that receive `event_type` in this organization: all 20 for core events, else preferences."""
    if event_type.core:
        return frozenset(AdminRole.values)
    chosen = dict(
        RolePreference.objects.filter(organization_id=organization_id, kind=event_type.code).values_list("role", "enabled")
    )
    return frozenset(role for role in AdminRole.values if chosen.get(role, role in event_type.default_roles))


def role_recipients(organization_id, roles) -> list[Recipient]:
    """Active people of this organization holding any of `roles`, each once (one query, whatever the size).

    Only admin-role rows are read, so members without an admin role and people of other
    organizations can never appear. Two accounts sharing one mailbox get one email.
    """
    roles = [role for role in roles if role in AdminRole.values]
    if not roles:
        return []
    rows = (
        MembershipRole.objects.filter(
            membership__organization_id=organization_id, role__in=roles, membership__user__is_active=True
        )
        .exclude(membership__user__email="")
        .order_by("membership__user_id", "role")
        .values_list(
            "membership__user_id",
            "membership__user__email",
            "membership__user__first_name",
            "membership__user__last_name",
            "role",
        )
    )
    by_address: dict[str, dict] = {}
    for user_id, email, first, last, role in rows.iterator(chunk_size=5000):
        person = by_address.get(email.lower())
        if person is None:
            name = f"{first} {last}".strip()
            person = by_address[email.lower()] = {"user_id": user_id, "email": email, "name": name, "roles": set()}
        person["roles"].add(role)
    return [
        Recipient(p["user_id"], p["email"], p["name"], tuple(sorted(p["roles"]))) for p in by_address.values()
    ]


def requester_recipient(organization_id, user) -> list[Recipient]:
    """The person who asked, if they still hold an admin role in this organization."""
    if user is None or not user.is_active or not user.email:
        return []
    roles = tuple(
        sorted(
            MembershipRole.objects.filter(
                membership__organization_id=organization_id, membership__user=user
            ).values_list("role", flat=True)
        )
    )
    if not roles:
        return []
    return [Recipient(user.pk, user.email, user.get_full_name(), roles)]


def support_recipients(addresses) -> list[Recipient]:
    seen, recipients = set(), []
    for address in addresses:
        if address and address.lower() not in seen:
            seen.add(address.lower())
            recipients.append(Recipient(None, address, "Support"))
    return recipients


def preferences(organization) -> dict:
    """kind -> the roles that receive it, for every optional event."""
    chosen = {}
    for kind, role, enabled in RolePreference.objects.filter(organization=organization).values_list(
        "kind", "role", "enabled"
    ):
        chosen[(kind, role)] = enabled
    return {
        t.code: frozenset(r for r in AdminRole.values if chosen.get((t.code, r), r in t.default_roles))
        for t in kinds.OPTIONAL
    }


def thresholds(organization):
    return LowBalanceThreshold.objects.filter(organization=organization).order_by("-amount")


def crossed_thresholds(organization_id, previous_balance, new_balance):
    """Thresholds the balance has just fallen below: it was at or above them, and is now under them."""
    if new_balance >= previous_balance:
        return LowBalanceThreshold.objects.none()
    return LowBalanceThreshold.objects.filter(
        organization_id=organization_id, amount__gt=new_balance, amount__lte=previous_balance
    ).order_by("amount")


def _delivery_count(condition):
    # A count per event in its own subquery, not a join grouped by event: PostgreSQL evaluates it for the
    # page's 25 rows after the LIMIT, where the join counted every delivery of the organization's whole
    # history first (72 ms at 765 events, growing with every notification sent).
    # The condition filters the count, not the rows, so that each subquery reads the event's deliveries
    # by their event index: as a WHERE, the planner may combine it with the outbox's index of every
    # pending delivery, which it misjudges right after a burst of notifications.
    deliveries = Delivery.objects.filter(event=OuterRef("pk")).order_by().values("event")
    return Coalesce(Subquery(deliveries.annotate(n=Count("pk", filter=condition)).values("n")[:1]), 0)


def organization_events(organization):
    """The Message center's rows: the organization's notifications with their delivery counts."""
    return (
        Event.objects.filter(organization=organization, kind__in=kinds.TENANT_VISIBLE)
        .exclude(audience=kinds.Audience.SUPPORT)
        .annotate(
            recipient_count=_delivery_count(Q(resend_of__isnull=True)),
            sent_count=_delivery_count(Q(status=DeliveryStatus.SENT)),
            waiting_count=_delivery_count(Q(status__in=[DeliveryStatus.PENDING, DeliveryStatus.SENDING])),
            failed_count=_delivery_count(Q(status=DeliveryStatus.FAILED)),
        )
        .order_by("-occurred_at", "-pk")
    )


FIRST_RECIPIENTS = 3


def with_first_recipients(events_queryset):
    """The first few recipients of each event, for the list: one query per page, however many recipients."""
    first = (
        Delivery.objects.filter(resend_of__isnull=True)
        .only("event_id", "recipient_name", "email")  # all the list shows of them
        .order_by("recipient_name", "email", "pk")[:FIRST_RECIPIENTS]
    )
    return events_queryset.prefetch_related(Prefetch("deliveries", queryset=first, to_attr="first_recipients"))


def event_for(organization, pk) -> Event:
    return organization_events(organization).get(pk=pk)


def event_deliveries(event):
    return Delivery.objects.filter(event=event).order_by("recipient_name", "email", "pk")


def pending_for_event(event_id):
    return Delivery.objects.filter(event_id=event_id, status=DeliveryStatus.PENDING)
