"""What the Spend guard page reads: the organization's policy and overrides, its destination rules
(defaults marked), the credit blocks in force and the audit trail. Read-only, scoped to the organization."""

from dataclasses import dataclass
from datetime import timedelta

from django.db.models import Q, Sum
from django.utils import timezone

from billing.money import ZERO

from ..choices import Rating
from ..models import DailyUsage, Person
from ..spend_guard import CapAction, CapCrossing, CreditBlock, DestinationRule, GuardChange, GuardScope, SpendPolicy


@dataclass
class GuardPage:
    policy: SpendPolicy | None
    overrides: list
    rules: list
    lifted_defaults: list
    active_blocks: list
    recent_blocks: list
    changes: list
    currency: str
    spent_today: object = None  # credits charged today (UTC), as the imports so far recorded it
    crossings: list = ()  # caps reached in the last 7 days

    @property
    def action_label(self):
        return CapAction(self.policy.cap_action or CapAction.WARN).label if self.policy else CapAction.WARN.label


def organization_policy(organization):
    return SpendPolicy.objects.filter(organization=organization, scope=GuardScope.ORGANIZATION).first()


def overrides(organization):
    return SpendPolicy.objects.filter(organization=organization).exclude(scope=GuardScope.ORGANIZATION).select_related("person")


def rules(organization):
    return DestinationRule.objects.filter(organization=organization).select_related("person", "lifted_by")


def blocks(organization):
    return CreditBlock.objects.filter(organization=organization).select_related("person", "created_by", "lifted_by")


def active_blocks(organization, now=None):
    now = now or timezone.now()
    return blocks(organization).filter(lifted_at__isnull=True).filter(Q(until__isnull=True) | Q(until__gt=now))


def changes(organization):
    return GuardChange.objects.filter(organization=organization).select_related("changed_by")


def guard_page(organization) -> GuardPage:
    all_rules = list(rules(organization))
    active = list(active_blocks(organization))
    active_ids = {b.pk for b in active}
    return GuardPage(
        policy=organization_policy(organization),
        overrides=list(overrides(organization)),
        rules=all_rules,
        lifted_defaults=[r for r in all_rules if r.lifted_at is not None and r.default_key],
        active_blocks=active,
        recent_blocks=[b for b in blocks(organization)[:20] if b.pk not in active_ids],
        changes=list(changes(organization)[:10]),
        currency=organization.currency,
        spent_today=DailyUsage.objects.filter(organization=organization, day=timezone.now().date(), rating=Rating.CHARGED)
        .aggregate(total=Sum("charge"))["total"] or ZERO,
        crossings=list(
            CapCrossing.objects.filter(organization=organization, day__gte=timezone.now().date() - timedelta(days=6)).select_related("person")[:20]
        ),
    )


def people_choices(organization):
    """(id, label) of the organization's people, for the forms' person pickers."""
    return [
        (pk, f"{name or upn} ({upn})" if name else upn)
        for pk, upn, name in Person.objects.filter(organization=organization).order_by("display_name", "upn").values_list("pk", "upn", "display_name")
    ]


def department_choices(organization):
    return list(
        Person.objects.filter(organization=organization).exclude(department="").order_by("department").values_list("department", flat=True).distinct()
    )
