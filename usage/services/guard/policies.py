"""Spend policies: caps and what happens at a cap, for the organization, a department or a person."""

from django.db import transaction

from ...spend_guard import GuardChange, GuardScope, SpendPolicy
from .audit import policy_snapshot, record_change
from .validation import GuardError, clean_policy


def save_policy(
    organization,
    *,
    actor,
    scope=GuardScope.ORGANIZATION,
    department="",
    person=None,
    call_cap=None,
    person_day_cap=None,
    organization_day_cap=None,
    cap_action="",
) -> SpendPolicy:
    """Create the policy of this scope, or update it when it exists; audited."""
    values = clean_policy(
        organization,
        scope=scope,
        department=department,
        person=person,
        call_cap=call_cap,
        person_day_cap=person_day_cap,
        organization_day_cap=organization_day_cap,
        cap_action=cap_action,
    )
    with transaction.atomic():
        policy = (
            SpendPolicy.objects.select_for_update(of=("self",))
            .filter(organization=organization, scope=values["scope"], department=values["department"], person=values["person"])
            .first()
        )
        before = policy_snapshot(policy)
        if policy is None:
            policy = SpendPolicy(organization=organization)
        for name, value in values.items():
            setattr(policy, name, value)
        policy.updated_by = actor if actor is not None and actor.is_authenticated else None
        policy.save()
        after = policy_snapshot(policy)
        if before != after:
            record_change(
                organization, GuardChange.Subject.POLICY, policy.pk, "created" if before is None else "updated",
                actor=actor, before=before, after=after,
            )
    return policy


def update_policy(organization, policy_id, *, actor, **fields) -> SpendPolicy:
    """Change the caps of an existing policy (of this organization: another's id raises DoesNotExist)."""
    policy = SpendPolicy.objects.select_related("person").get(organization=organization, pk=policy_id)
    current = {
        "scope": policy.scope,
        "department": policy.department,
        "person": policy.person,
        "call_cap": policy.call_cap,
        "person_day_cap": policy.person_day_cap,
        "organization_day_cap": policy.organization_day_cap,
        "cap_action": policy.cap_action,
    }
    unknown = set(fields) - set(current)
    if unknown:
        raise GuardError({"__all__": f"Unknown fields: {', '.join(sorted(unknown))}."})
    current.update(fields)
    return save_policy(organization, actor=actor, **current)


def delete_policy(organization, policy_id, *, actor) -> None:
    """Remove an override (a department's or a person's); the organization's policy is kept, with no caps."""
    with transaction.atomic():
        policy = SpendPolicy.objects.select_for_update(of=("self",)).select_related("person").get(organization=organization, pk=policy_id)
        if policy.scope == GuardScope.ORGANIZATION:
            raise GuardError({"__all__": "The organization's policy cannot be removed; clear its caps instead."})
        before = policy_snapshot(policy)
        record_change(organization, GuardChange.Subject.POLICY, policy.pk, "deleted", actor=actor, before=before, after=None)
        policy.delete()
