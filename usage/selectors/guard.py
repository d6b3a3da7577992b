"""What the Spend guard page reads: the organization's policy and overrides, its destination rules
(defaults marked), the credit blocks in force and the audit trail. Read-only, scoped to the organization."""

from dataclasses import dataclass

from django.db.models import Q
from django.utils import timezone

from ..models import Person
from ..spend_guard import CapAction, CreditBlock, DestinationRule, GuardChange, GuardScope, SpendPolicy


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
